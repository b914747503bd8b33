"""DataStreamer: named streams over the bus, each message numbered so consumers can see gaps.

A stream's messages go out on bus topic `stream.<stream_id>` wrapped in a `StreamMessage`
(stream_id, timestamp, sequence_number, data_type, payload). The last `buffer_size` messages
are kept, so a late subscriber or a reconnecting client can catch up with `recent()`.

Paused streams keep numbering and buffering; what overflows the buffer while paused is lost to
subscribers, and they see it as a sequence gap on resume, which is reported on the bus topic
`stream.gaps` and in the stream's metrics. Streams with `update_frequency_ms > 0` conflate:
at most one message per interval reaches subscribers, the latest one; `flush_due()` (called by
a timer) releases a held message once its interval is over. Conflated messages are not numbered,
so conflation never looks like a gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from grekko.core.errors import ConfigError
from grekko.core.time import Clock
from grekko.domain.streams import SequenceGap, StreamDataType, StreamMessage, StreamSpec
from grekko.engines.bus import MessageBus
from grekko.engines.ingest.metrics import MetricsRegistry

GAP_TOPIC = "stream.gaps"
StreamHandler = Callable[[StreamMessage], Any]


def stream_topic(stream_id: str) -> str:
    return f"stream.{stream_id}"


class StreamInfo(msgspec.Struct, frozen=True):
    spec: StreamSpec
    paused: bool
    sequence_number: int
    buffered: int
    subscribers: int
    conflated: int


class _Stream:
    __slots__ = (
        "buffer",
        "conflated",
        "data_type",
        "held",
        "last_release_ns",
        "paused",
        "paused_at_seq",
        "seq",
        "spec",
        "subscribers",
        "topic",
    )

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.data_type = spec.data_type
        self.topic = stream_topic(spec.stream_id)
        self.seq = 0
        self.buffer: deque[StreamMessage] = deque(maxlen=spec.buffer_size)
        self.paused = False
        self.paused_at_seq = 0
        self.held: Any = None
        self.last_release_ns = 0
        self.conflated = 0
        self.subscribers: dict[StreamHandler, SequenceTracker] = {}


class SequenceTracker:
    """Consumer side: remembers the last sequence number and names any jump."""

    __slots__ = ("expected", "stream_id")

    def __init__(self, stream_id: str, expected: int = 1) -> None:
        self.stream_id = stream_id
        self.expected = expected

    def check(self, sequence_number: int) -> SequenceGap | None:
        gap = None
        if sequence_number > self.expected:
            gap = SequenceGap(self.stream_id, self.expected, sequence_number)
        if sequence_number >= self.expected:
            self.expected = sequence_number + 1
        return gap


class DataStreamer:
    def __init__(self, bus: MessageBus, clock: Clock, metrics: MetricsRegistry | None = None):
        self._bus = bus
        self._clock = clock
        self.metrics = metrics or MetricsRegistry()
        self._streams: dict[str, _Stream] = {}
        self._wrappers: dict[tuple[str, StreamHandler], StreamHandler] = {}

    # ---- lifecycle ------------------------------------------------------------------------
    def create_stream(self, spec: StreamSpec) -> StreamSpec:
        if spec.stream_id in self._streams:
            raise ConfigError(f"stream {spec.stream_id!r} already exists")
        self._streams[spec.stream_id] = _Stream(spec)
        self.metrics.stream(spec.stream_id)
        return spec

    def destroy_stream(self, stream_id: str) -> None:
        stream = self._get(stream_id)
        for handler in list(stream.subscribers):
            self._bus.unsubscribe(stream.topic, self._wrappers.pop((stream_id, handler)))
        del self._streams[stream_id]
        self.metrics.drop(stream_id)

    def list_streams(self, data_type: StreamDataType | None = None) -> list[StreamInfo]:
        return [
            StreamInfo(s.spec, s.paused, s.seq, len(s.buffer), len(s.subscribers), s.conflated)
            for s in self._streams.values()
            if data_type is None or s.data_type == data_type
        ]

    def has_stream(self, stream_id: str) -> bool:
        return stream_id in self._streams

    # ---- subscribers ----------------------------------------------------------------------
    def subscribe(self, stream_id: str, handler: StreamHandler, *, replay: bool = False) -> None:
        """replay=True first hands the handler the buffered recent messages, oldest first."""
        stream = self._get(stream_id)
        if handler in stream.subscribers:
            return
        start = stream.buffer[0].sequence_number if replay and stream.buffer else stream.seq + 1
        stream.subscribers[handler] = SequenceTracker(stream_id, start)
        if replay:
            for message in list(stream.buffer):
                self._deliver(stream, handler, message)
        self._bus.subscribe(stream.topic, self._checked(stream, handler))

    def unsubscribe(self, stream_id: str, handler: StreamHandler) -> None:
        stream = self._get(stream_id)
        if stream.subscribers.pop(handler, None) is not None:
            self._bus.unsubscribe(stream.topic, self._wrappers.pop((stream_id, handler)))

    def _checked(self, stream: _Stream, handler: StreamHandler) -> StreamHandler:
        def deliver(message: StreamMessage) -> None:
            self._deliver(stream, handler, message)

        self._wrappers[(stream.spec.stream_id, handler)] = deliver
        return deliver

    def _deliver(self, stream: _Stream, handler: StreamHandler, message: StreamMessage) -> None:
        tracker = stream.subscribers.get(handler)
        if tracker is not None:
            if message.sequence_number < tracker.expected:
                return  # already delivered: a replayed subscriber also sees the resume flush
            gap = tracker.check(message.sequence_number)
            if gap is not None:
                self.metrics.stream(stream.spec.stream_id).on_gap(gap.missing)
                self._bus.publish(GAP_TOPIC, gap)
        handler(message)

    # ---- publishing -----------------------------------------------------------------------
    def publish(self, stream_id: str, payload: Any, now: int = 0) -> StreamMessage | None:
        """Numbers, buffers and delivers one message; None when it was conflated or paused.

        `now` lets a caller that already read the clock for this message pass it in.
        """
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = self._get(stream_id)
        if not now:
            now = self._clock.timestamp_ns()
        interval = stream.spec.update_frequency_ms
        if interval and now - stream.last_release_ns < interval * 1_000_000:
            if stream.held is not None:
                stream.conflated += 1
            stream.held = payload
            return None
        stream.held = None
        stream.last_release_ns = now
        return self._release(stream, payload, now)

    def _release(self, stream: _Stream, payload: Any, now: int) -> StreamMessage | None:
        stream.seq += 1
        message = StreamMessage(stream.spec.stream_id, now, stream.seq, stream.data_type, payload)
        stream.buffer.append(message)
        if stream.paused:
            return None
        self._bus.publish(stream.topic, message)
        return message

    def relay(
        self, pattern: str, stream_id: str, event_time: Callable[[Any], int] | None = None
    ) -> None:
        """Feed a stream from bus messages matching `pattern`, counted in the stream's metrics
        (with the event-time lag when `event_time` reads a message's time)."""
        metrics = self.metrics.stream(stream_id)
        if event_time is None:
            metrics.measures_lag = False

        def forward(message: Any) -> None:
            now = self._clock.timestamp_ns()
            metrics.received += 1
            self.publish(stream_id, message, now)
            metrics.on_published(now, event_time(message) if event_time is not None else now)

        self._bus.subscribe(pattern, forward)

    def flush_due(self, *, force: bool = False) -> int:
        """Release held (conflated) messages whose interval is over (all of them when forced,
        e.g. when the sources have ended); returns how many went out."""
        released = 0
        now = self._clock.timestamp_ns()
        for stream in self._streams.values():
            held = stream.held
            if held is None:
                continue
            if force or now - stream.last_release_ns >= stream.spec.update_frequency_ms * 1_000_000:
                stream.held = None
                stream.last_release_ns = now
                self._release(stream, held, now)
                released += 1
        return released

    # ---- pause / resume -------------------------------------------------------------------
    def pause(self, stream_id: str) -> None:
        stream = self._get(stream_id)
        if not stream.paused:
            stream.paused = True
            stream.paused_at_seq = stream.seq

    def resume(self, stream_id: str) -> int:
        """Delivers what was buffered while paused; returns how many messages that was."""
        stream = self._get(stream_id)
        if not stream.paused:
            return 0
        stream.paused = False
        pending = [m for m in stream.buffer if m.sequence_number > stream.paused_at_seq]
        for message in pending:
            self._bus.publish(stream.topic, message)
        return len(pending)

    def recent(self, stream_id: str, limit: int | None = None) -> list[StreamMessage]:
        messages = list(self._get(stream_id).buffer)
        return messages if limit is None else messages[-limit:]

    def _get(self, stream_id: str) -> _Stream:
        try:
            return self._streams[stream_id]
        except KeyError:
            raise ConfigError(
                f"no stream {stream_id!r}; existing: {sorted(self._streams) or 'none'}"
            ) from None
