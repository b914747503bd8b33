"""DataStreamer: stream lifecycle, numbering, pause/resume with gaps, conflation, replay."""

from __future__ import annotations

import pytest

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.core.errors import ConfigError
from grekko.core.time import TestClock
from grekko.domain.data import Bar
from grekko.domain.streams import SequenceGap, StreamDataType, StreamMessage, StreamSpec
from grekko.engines.bus import MessageBus
from grekko.engines.streamer import GAP_TOPIC, DataStreamer, SequenceTracker, stream_topic

MS = 10**6
T0 = 1_618_790_400 * 10**9


def real_bars(count: int) -> list[Bar]:
    bars = load_bars(bundled_files()[0])
    rows = iter_bar_rows(bars)
    return [
        Bar("BTC/USDT@binance", o, h, low, c, v, ts_open, ts_close)
        for (ts_open, ts_close, o, h, low, c, v), _ in zip(rows, range(count), strict=False)
    ]


class Recorder:
    """A subscriber that keeps what it was handed."""

    def __init__(self) -> None:
        self.messages: list[StreamMessage] = []

    def __call__(self, message: StreamMessage) -> None:
        self.messages.append(message)

    @property
    def sequence(self) -> list[int]:
        return [m.sequence_number for m in self.messages]


def make(
    *specs: StreamSpec, start: int = T0
) -> tuple[DataStreamer, MessageBus, TestClock, list[SequenceGap]]:
    bus, clock = MessageBus(), TestClock(start)
    streamer = DataStreamer(bus, clock)
    gaps: list[SequenceGap] = []
    bus.subscribe(GAP_TOPIC, gaps.append)
    for spec in specs:
        streamer.create_stream(spec)
    return streamer, bus, clock, gaps


def spec(stream_id: str = "btc", **fields: object) -> StreamSpec:
    return StreamSpec(stream_id, StreamDataType.MARKET_DATA, **fields)  # type: ignore[arg-type]


def test_create_list_and_destroy() -> None:
    streamer, bus, _, _ = make()
    streamer.create_stream(spec("btc", source="replay:btc"))
    streamer.create_stream(StreamSpec("risk", StreamDataType.RISK_METRICS))
    assert [i.spec.stream_id for i in streamer.list_streams()] == ["btc", "risk"]
    only = streamer.list_streams(StreamDataType.RISK_METRICS)
    assert [(i.spec.stream_id, i.paused, i.sequence_number, i.buffered) for i in only] == [
        ("risk", False, 0, 0)
    ]
    recorder = Recorder()
    streamer.subscribe("btc", recorder)
    assert streamer.list_streams()[0].subscribers == 1
    streamer.destroy_stream("btc")
    assert not streamer.has_stream("btc")
    assert bus.subscriptions(stream_topic("btc")) == ()  # its subscribers went with it
    assert [s.stream_id for s in streamer.metrics.snapshot()] == ["risk"]


def test_duplicate_and_unknown_ids_are_config_errors() -> None:
    streamer, _, _, _ = make(spec("btc"), spec("eth"))
    with pytest.raises(ConfigError, match="already exists"):
        streamer.create_stream(spec("btc"))
    for call in (
        lambda: streamer.publish("nope", 1),
        lambda: streamer.subscribe("nope", Recorder()),
        lambda: streamer.pause("nope"),
        lambda: streamer.destroy_stream("nope"),
        lambda: streamer.recent("nope"),
    ):
        with pytest.raises(ConfigError, match=r"no stream 'nope'; existing: \['btc', 'eth'\]"):
            call()
    empty, _, _, _ = make()
    with pytest.raises(ConfigError, match="existing: none"):
        empty.resume("nope")


@pytest.mark.parametrize(
    "fields",
    [
        {"stream_id": ""},
        {"stream_id": "x" * 201},
        {"update_frequency_ms": -1},
        {"buffer_size": 0},
        {"buffer_size": 1_000_001},
    ],
)
def test_bad_specs_are_refused(fields: dict[str, object]) -> None:
    values: dict[str, object] = {"stream_id": "s", "data_type": StreamDataType.MARKET_DATA}
    values.update(fields)
    with pytest.raises(ValueError, match="must be"):
        StreamSpec(**values)  # type: ignore[arg-type]


def test_messages_are_numbered_from_one_and_stamped() -> None:
    streamer, bus, clock, gaps = make(spec("btc"))
    recorder, on_bus = Recorder(), Recorder()
    streamer.subscribe("btc", recorder)
    bus.subscribe(stream_topic("btc"), on_bus)
    bars = real_bars(5)
    for bar in bars:
        clock.set_time(bar.ts_event)
        streamer.publish("btc", bar)
    assert recorder.sequence == [1, 2, 3, 4, 5]
    assert on_bus.messages == recorder.messages
    first = recorder.messages[0]
    assert (first.stream_id, first.data_type, first.payload) == (
        "btc",
        StreamDataType.MARKET_DATA,
        bars[0],
    )
    assert [m.timestamp for m in recorder.messages] == [b.ts_event for b in bars]
    assert streamer.publish("btc", bars[0], T0 + 7).timestamp == T0 + 7  # type: ignore[union-attr]
    assert gaps == []


def test_subscribe_is_idempotent_and_unsubscribe_stops_delivery() -> None:
    streamer, _, _, _ = make(spec("btc"))
    recorder = Recorder()
    streamer.subscribe("btc", recorder)
    streamer.subscribe("btc", recorder)
    streamer.publish("btc", 1)
    streamer.unsubscribe("btc", recorder)
    streamer.unsubscribe("btc", recorder)
    streamer.publish("btc", 2)
    assert recorder.sequence == [1]


def test_pause_buffers_and_resume_delivers_in_order() -> None:
    streamer, _, _, gaps = make(spec("btc", buffer_size=100))
    recorder = Recorder()
    streamer.subscribe("btc", recorder)
    bars = real_bars(10)
    streamer.publish("btc", bars[0])
    streamer.pause("btc")
    streamer.pause("btc")  # twice is once
    assert all(streamer.publish("btc", bar) is None for bar in bars[1:])
    assert recorder.sequence == [1]
    info = streamer.list_streams()[0]
    assert (info.paused, info.sequence_number, info.buffered) == (True, 10, 10)
    assert streamer.resume("btc") == 9
    assert streamer.resume("btc") == 0
    assert recorder.sequence == list(range(1, 11))
    assert [m.payload for m in recorder.messages] == bars
    assert gaps == []


def test_overflow_while_paused_is_a_gap() -> None:
    streamer, _, _, gaps = make(spec("btc", buffer_size=5))
    recorder = Recorder()
    streamer.subscribe("btc", recorder)
    streamer.publish("btc", "a")
    streamer.publish("btc", "b")
    streamer.pause("btc")
    for i in range(8):  # seq 3..10; only 6..10 fit in the buffer
        streamer.publish("btc", i)
    assert streamer.resume("btc") == 5
    assert recorder.sequence == [1, 2, 6, 7, 8, 9, 10]
    assert gaps == [SequenceGap("btc", 3, 6)]
    assert gaps[0].missing == 3
    stats = streamer.metrics.stream("btc").snapshot()
    assert (stats.gaps, stats.missing) == (1, 3)
    streamer.publish("btc", "next")
    assert recorder.sequence[-1] == 11
    assert len(gaps) == 1


def test_conflation_holds_the_latest_until_the_interval_is_over() -> None:
    streamer, _, clock, gaps = make(spec("btc", update_frequency_ms=100))
    recorder = Recorder()
    streamer.subscribe("btc", recorder)
    assert streamer.publish("btc", "p0") is not None
    clock.advance(10 * MS)
    assert streamer.publish("btc", "p1") is None
    clock.advance(10 * MS)
    assert streamer.publish("btc", "p2") is None  # replaces p1
    assert streamer.flush_due() == 0
    clock.advance(79 * MS)
    assert streamer.flush_due() == 0  # 99 ms since p0
    clock.advance(1 * MS)
    assert streamer.flush_due() == 1
    assert streamer.flush_due() == 0
    assert [(m.sequence_number, m.payload) for m in recorder.messages] == [(1, "p0"), (2, "p2")]
    assert recorder.messages[1].timestamp == T0 + 100 * MS
    clock.advance(50 * MS)
    streamer.publish("btc", "p3")  # held
    clock.advance(50 * MS)
    streamer.publish("btc", "p4")  # due: goes out at once and supersedes p3
    assert streamer.flush_due() == 0
    assert [m.payload for m in recorder.messages] == ["p0", "p2", "p4"]
    assert recorder.sequence == [1, 2, 3]  # conflation is not a gap
    assert streamer.list_streams()[0].conflated == 1
    assert gaps == []


def test_replay_hands_a_new_subscriber_the_buffer_first() -> None:
    streamer, _, _, gaps = make(spec("btc", buffer_size=3))
    for i in range(5):
        streamer.publish("btc", i)
    late, fresh = Recorder(), Recorder()
    streamer.subscribe("btc", late, replay=True)
    streamer.subscribe("btc", fresh)
    streamer.publish("btc", 5)
    assert late.sequence == [3, 4, 5, 6]  # what the buffer still held, then live
    assert fresh.sequence == [6]
    assert [m.sequence_number for m in streamer.recent("btc", limit=2)] == [5, 6]
    assert gaps == []


def test_replay_during_a_pause_delivers_nothing_twice() -> None:
    streamer, _, _, gaps = make(spec("btc"))
    streamer.publish("btc", "a")
    streamer.pause("btc")
    streamer.publish("btc", "b")
    streamer.publish("btc", "c")
    recorder = Recorder()
    streamer.subscribe("btc", recorder, replay=True)
    streamer.resume("btc")
    streamer.publish("btc", "d")
    assert recorder.sequence == [1, 2, 3, 4]
    assert gaps == []


def test_each_subscriber_tracks_its_own_sequence() -> None:
    tracker = SequenceTracker("s")
    assert tracker.check(1) is None
    assert tracker.check(2) is None
    assert tracker.check(5) == SequenceGap("s", 3, 5)
    assert tracker.check(4) is None  # late and old: no new gap
    assert tracker.expected == 6


def test_a_forced_flush_releases_what_conflation_still_holds() -> None:
    clock = TestClock(10**18)
    streamer = DataStreamer(MessageBus(), clock)
    streamer.create_stream(StreamSpec("s", StreamDataType.RISK_METRICS, update_frequency_ms=1000))
    got: list[StreamMessage] = []
    streamer.subscribe("s", got.append)
    streamer.publish("s", "first")
    streamer.publish("s", "held")
    assert streamer.flush_due() == 0  # its interval is not over
    assert streamer.flush_due(force=True) == 1
    assert [(m.payload, m.sequence_number) for m in got] == [("first", 1), ("held", 2)]


def test_relay_feeds_a_stream_from_bus_topics_and_counts_it() -> None:
    clock = TestClock(10**18)
    bus = MessageBus()
    streamer = DataStreamer(bus, clock)
    streamer.create_stream(StreamSpec("news", StreamDataType.NEWS_FEED))
    streamer.relay("news", "news", lambda item: item["ts"])
    got: list[StreamMessage] = []
    streamer.subscribe("news", got.append)

    bus.publish("news", {"ts": 10**18 - 2_000_000})
    bus.publish("other", {"ts": 0})

    assert [m.sequence_number for m in got] == [1]
    stats = streamer.metrics.stream("news").snapshot()
    assert (stats.received, stats.published) == (1, 1)
    assert stats.lag_max_ms == 2.0


def test_a_relay_without_event_times_reports_no_lag() -> None:
    bus = MessageBus()
    streamer = DataStreamer(bus, TestClock(10**18))
    streamer.create_stream(StreamSpec("bars", StreamDataType.MARKET_DATA))
    streamer.relay("data.bars.*", "bars")
    bus.publish("data.bars.X", object())
    stats = streamer.metrics.stream("bars").snapshot()
    assert stats.published == 1
    assert stats.lag_p99_ms is None
