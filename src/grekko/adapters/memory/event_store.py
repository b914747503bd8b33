"""InMemoryEventStore: the EventStore port held in lists, for backtests where persistence slows.

Events stay Python objects (no encoding), so an append is a version check and two list appends.
A lock makes appends atomic across threads; uncontended it costs well under a microsecond.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType

from grekko.core.errors import DataError
from grekko.domain.events import Event
from grekko.ports.event_store import (
    ANY_VERSION,
    STORABLE_EVENT_TYPES,
    RecordedEvent,
    Snapshot,
    check_start,
    check_storable,
    check_stream_id,
    not_storable,
    version_error,
)

AppendBatch = tuple[str, Sequence[Event], int]


class InMemoryEventStore:
    """Every stream in one process's memory; nothing survives close() or the process."""

    __slots__ = ("_lock", "_log", "_snapshots", "_streams")

    def __init__(self) -> None:
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._log: list[RecordedEvent] = []
        self._snapshots: dict[str, Snapshot] = {}
        self._lock = threading.Lock()

    def append(
        self, stream_id: str, events: Sequence[Event], expected_version: int = ANY_VERSION
    ) -> int:
        """Append atomically; returns the stream's new version (ConcurrencyError on a stale one)."""
        for event in events:
            if type(event) not in STORABLE_EVENT_TYPES:
                raise not_storable(event)
        with self._lock:
            stream = self._streams.get(stream_id)
            if stream is None:
                if expected_version not in (0, ANY_VERSION):
                    raise version_error(stream_id, expected_version, 0)
                if not events:
                    return 0
                check_stream_id(stream_id)
                stream = self._streams[stream_id] = []
            elif expected_version != len(stream) and expected_version != ANY_VERSION:
                raise version_error(stream_id, expected_version, len(stream))
            if len(events) == 1:  # the common case on a backtest's hot path, without a call
                version = len(stream) + 1
                recorded = RecordedEvent(len(self._log) + 1, stream_id, version, events[0])  # type: ignore[arg-type]
                stream.append(recorded)
                self._log.append(recorded)
                return version
            return self._write(stream_id, stream, events)

    def append_many(self, batches: Sequence[AppendBatch]) -> list[int]:
        """Append to several streams all-or-nothing; returns each batch's new stream version.

        The kernel writes an order's events and its account's together: either both land or neither.
        """
        for _, events, _ in batches:
            check_storable(events)
        with self._lock:
            new_versions = self._plan_versions(batches)
            for stream_id, events, _ in batches:
                if events:
                    self._write(stream_id, self._stream_for_write(stream_id), events)
        return new_versions

    def read(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        check_start(from_version, "from_version")
        stream = self._streams.get(stream_id)
        if stream is None:
            return []
        return stream[from_version - 1 :]

    def read_all(self, from_position: int = 1) -> Iterator[RecordedEvent]:
        """Every stream in global append order; events appended while iterating are yielded too."""
        check_start(from_position, "from_position")
        return self._iterate_log(from_position - 1)

    def stream_version(self, stream_id: str) -> int:
        stream = self._streams.get(stream_id)
        return 0 if stream is None else len(stream)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.version < 0:
            raise DataError(f"snapshot version must be >= 0, got {snapshot.version}")
        self._snapshots[snapshot.stream_id] = snapshot

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        return self._snapshots.get(stream_id)

    def close(self) -> None:
        """Nothing to release: the data lives as long as this object."""

    def __enter__(self) -> InMemoryEventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, stream_id: str, stream: list[RecordedEvent], events: Iterable[Event]) -> int:
        log = self._log
        position = len(log)
        version = len(stream)
        for event in events:
            position += 1
            version += 1
            recorded = RecordedEvent(position, stream_id, version, event)  # type: ignore[arg-type]
            stream.append(recorded)
            log.append(recorded)
        return version

    def _stream_for_write(self, stream_id: str) -> list[RecordedEvent]:
        stream = self._streams.get(stream_id)
        if stream is None:
            check_stream_id(stream_id)
            stream = self._streams[stream_id] = []
        return stream

    def _plan_versions(self, batches: Sequence[AppendBatch]) -> list[int]:
        planned: dict[str, int] = {}
        new_versions: list[int] = []
        for stream_id, events, expected_version in batches:
            current = planned.get(stream_id)
            if current is None:
                current = self.stream_version(stream_id)
            if expected_version not in (current, ANY_VERSION):
                raise version_error(stream_id, expected_version, current)
            planned[stream_id] = current + len(events)
            new_versions.append(current + len(events))
        return new_versions

    def _iterate_log(self, index: int) -> Iterator[RecordedEvent]:
        log = self._log
        while index < len(log):
            yield log[index]
            index += 1
