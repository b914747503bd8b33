"""IngestPipeline on real data: exactly the accepted records reach the bus and the stream."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd
import pytest

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.adapters.files.trades import load_trades
from grekko.core.time import TestClock
from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.indicators import CompositePrice, IndicatorSnapshot
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade
from grekko.domain.streams import StreamDataType, StreamMessage, StreamSpec
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.aggregator import VenueAggregator
from grekko.engines.ingest.enricher import Enricher
from grekko.engines.ingest.normalizer import Normalizer
from grekko.engines.ingest.pipeline import IngestPipeline, composite_topic
from grekko.engines.ingest.quarantine import Quarantine, QuarantinedRecord, describe_payload
from grekko.engines.ingest.service import indicator_topic
from grekko.engines.streamer import DataStreamer, stream_topic
from shared_data import shared_file

T_NOW = 1_700_000_000 * 10**9


class Rig:
    """The kernel's real data path: bus, cache, DataEngine, streamer, enricher on data.bars.*."""

    def __init__(self) -> None:
        self.bus = MessageBus()
        self.clock = TestClock(T_NOW)
        self.engine = DataEngine(self.bus, Cache())
        self.streamer = DataStreamer(self.bus, self.clock)
        self.enricher = Enricher(lambda s: self.bus.publish(indicator_topic(s.instrument_id), s))
        self.bus.subscribe("data.bars.*", self.enricher.on_bar, priority=100)
        self.quarantine = Quarantine()
        self.aggregator = VenueAggregator()
        self.seen: dict[str, list[Any]] = defaultdict(list)
        self.bus.subscribe("*", self._record)

    def _record(self, message: object) -> None:
        kind = type(message)
        if kind is Bar:
            self.seen[f"data.bars.{message.instrument_id}"].append(message)  # type: ignore[attr-defined]
        elif kind is TradeTick:
            self.seen[f"data.trades.{message.instrument_id}"].append(message)  # type: ignore[attr-defined]
        elif kind is QuoteTick:
            self.seen[f"data.quotes.{message.instrument_id}"].append(message)  # type: ignore[attr-defined]
        elif kind is IndicatorSnapshot:
            self.seen[indicator_topic(message.instrument_id)].append(message)  # type: ignore[attr-defined]
        elif kind is CompositePrice:
            self.seen[composite_topic(message.symbol)].append(message)  # type: ignore[attr-defined]
        elif kind is StreamMessage:
            self.seen[stream_topic(message.stream_id)].append(message)  # type: ignore[attr-defined]

    def pipeline(self, stream_id: str, **options: Any) -> IngestPipeline:
        self.streamer.create_stream(StreamSpec(stream_id, StreamDataType.MARKET_DATA))
        return IngestPipeline(
            stream_id,
            clock=self.clock,
            data_engine=self.engine,
            streamer=self.streamer,
            enricher=self.enricher,
            quarantine=self.quarantine,
            **options,
        )


def real_raw_bars(index: int = 0) -> list[RawBar]:
    bars = load_bars(bundled_files()[index])
    symbol = bars.symbol.replace("/", "")  # as Binance spells it
    return [
        RawBar("binance", symbol, ts // 10**6, str(o), str(h), str(low), str(c), str(v), 60)
        for ts, _, o, h, low, c, v in iter_bar_rows(bars)
    ]


def real_raw_trades(name: str, symbol: str, venue: str = "binance") -> list[RawTrade]:
    rows = load_trades(shared_file("ticks_orderbook", name))
    return [RawTrade(venue, symbol, p, a, s, ts, i) for ts, p, a, s, i in rows.rows()]


def test_real_bars_publish_exactly_the_accepted_ones() -> None:
    rig = Rig()
    pipeline = rig.pipeline("btc-1m")
    raws = real_raw_bars()
    bad = RawBar("binance", "BTCUSDT", raws[3000].ts, 1, 500_000, 1, 500_000, 1, 60)
    garbage = RawBar("binance", "BTCUSDT", "yesterday", "x", None, [], {}, float("nan"))
    feed = [*raws[:3000], bad, garbage, *raws[3000:]]
    results = [pipeline.push(raw) for raw in feed]
    assert results.count(False) == 2
    assert not results[3000]
    assert not results[3001]
    iid = "BTC/USDT@binance"
    normalizer = Normalizer()
    expected = [normalizer.bar(raw) for raw in raws]
    assert rig.seen[f"data.bars.{iid}"] == expected
    messages = rig.seen[stream_topic("btc-1m")]
    assert [m.sequence_number for m in messages] == list(range(1, len(raws) + 1))
    assert [m.payload for m in messages] == expected
    snapshots = rig.seen[indicator_topic(iid)]
    assert len(snapshots) == len(raws)
    assert snapshots[-1] == rig.enricher.latest[iid]
    assert snapshots[-1].close == expected[-1].close
    assert snapshots[-1].sma == pytest.approx(sum(b.close for b in expected[-20:]) / 20)
    stats = pipeline.metrics.snapshot()
    assert (stats.received, stats.published, stats.quarantined) == (len(feed), len(raws), 2)
    assert stats.quarantined_by_reason == {"spike": 1, "schema.ts": 1}
    assert [(q.stream_id, q.reason) for q in rig.quarantine.recent] == [
        ("btc-1m", "spike"),
        ("btc-1m", "schema.ts"),
    ]
    assert rig.quarantine.recent[0].recorded_at == T_NOW
    assert "500000" in rig.quarantine.recent[0].payload


@pytest.mark.shared
def test_real_trades_publish_trades_bars_and_indicators() -> None:
    rig = Rig()
    pipeline = rig.pipeline("xrp-trades")
    raws = real_raw_trades("binance_XRPETH_trades_2019-10-11.csv.gz", "XRPETH")
    assert all(pipeline.push(raw) for raw in raws)
    rig.engine.flush_aggregators()  # closes the last minute's bar
    iid = "XRP/ETH@binance"
    normalizer = Normalizer()
    expected = [normalizer.trade(raw) for raw in raws]
    assert rig.seen[f"data.trades.{iid}"] == expected
    assert [m.payload for m in rig.seen[stream_topic("xrp-trades")]] == expected
    frame = pd.DataFrame(
        {
            "minute": [t.ts_event // 60_000_000_000 for t in expected],
            "price": [t.price for t in expected],
            "size": [t.size for t in expected],
        }
    )
    ohlcv = frame.groupby("minute").agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        volume=("size", "sum"),
    )
    bars = rig.seen[f"data.bars.{iid}"]
    assert len(bars) == len(ohlcv)
    assert [b.ts_open // 60_000_000_000 for b in bars] == ohlcv.index.tolist()
    assert [b.close for b in bars] == ohlcv["close"].tolist()
    assert [b.high for b in bars] == ohlcv["high"].tolist()
    assert [b.volume for b in bars] == pytest.approx(ohlcv["volume"].tolist())
    assert len(rig.seen[indicator_topic(iid)]) == len(bars)
    assert rig.seen[composite_topic("XRP/ETH")] == []  # one venue: no composite
    assert pipeline.metrics.snapshot().quarantined == 0


@pytest.mark.shared
def test_trade_vwap_of_a_bar_counts_only_trades_up_to_its_close() -> None:
    """The day's last bar closes when the next day's first trade arrives: that trade is not in it."""
    rig = Rig()
    pipeline = rig.pipeline("xrp-trades")
    raws = real_raw_trades("binance_XRPETH_trades_2019-10-11.csv.gz", "XRPETH")
    for raw in raws:
        pipeline.push(raw)
    day_ns = 86_400 * 10**9
    ticks = rig.seen["data.trades.XRP/ETH@binance"]
    first_day = [t for t in ticks if t.ts_event // day_ns == ticks[0].ts_event // day_ns]
    vwap = sum(t.price * t.size for t in first_day) / sum(t.size for t in first_day)
    snapshots = rig.seen[indicator_topic("XRP/ETH@binance")]
    day_one = ticks[0].ts_event // day_ns
    minute = 60 * 10**9
    last_of_day = [s for s in snapshots if (s.ts_event - minute) // day_ns == day_one][-1]
    assert last_of_day.ts_event == (first_day[-1].ts_event // minute + 1) * minute
    assert last_of_day.trade_vwap == pytest.approx(vwap, rel=1e-12)


@pytest.mark.shared
def test_real_quotes_pass_and_reach_the_quote_topic() -> None:
    rig = Rig()
    pipeline = rig.pipeline("btc-quotes")
    frame = pd.read_parquet(shared_file("ticks_orderbook", "binance_btcusdt-quotes.parquet"))
    raws = [
        RawQuote("binance", "BTCUSDT", bid, ask, bid_size, ask_size, ts.value)
        for ts, bid, ask, bid_size, ask_size in frame[
            ["timestamp", "bid", "ask", "bid_size", "ask_size"]
        ].itertuples(index=False)
    ]
    assert all(pipeline.push(raw) for raw in raws)
    quotes = rig.seen["data.quotes.BTC/USDT@binance"]
    assert len(quotes) == len(frame) == 451
    assert quotes[0].bid == frame["bid"].iloc[0]
    assert len(rig.seen[stream_topic("btc-quotes")]) == 451


@pytest.mark.shared
def test_two_venues_of_one_symbol_publish_a_composite() -> None:
    rig = Rig()
    first = rig.pipeline("venue-a", aggregator=rig.aggregator)
    second = rig.pipeline("venue-b", aggregator=rig.aggregator)
    raws = real_raw_trades("binance_btcusdt-trades.parquet", "BTCUSDT")[:400]
    for raw in raws[:10]:
        assert first.push(raw)
    assert rig.seen[composite_topic("BTC/USDT")] == []  # one venue so far
    for index, raw in enumerate(raws[10:]):
        pipeline = first if index % 2 else second
        venue = "venue-a" if index % 2 else "venue-b"
        assert pipeline.push(RawTrade(venue, *[getattr(raw, f) for f in raw.__struct_fields__][1:]))
    composites = rig.seen[composite_topic("BTC/USDT")]
    assert len(composites) == len(raws) - 10
    last = composites[-1]
    assert last.venues == 2
    prices = [float(raw.price) for raw in raws[-2:]]  # type: ignore[arg-type]
    assert last.median_last == pytest.approx(sum(prices) / 2)
    assert last.vwap is not None


def test_books_without_a_sink_and_foreign_objects_are_quarantined() -> None:
    rig = Rig()
    pipeline = rig.pipeline("books")
    book = RawBook("binance", "BTCUSDT", [["20377.0", "1.77"]], [["20377.1", "0.5"]], 1667346579146)
    assert not pipeline.push(book)
    assert not pipeline.push({"price": 1})
    assert not pipeline.push(None)
    stats = pipeline.metrics.snapshot()
    assert (stats.received, stats.published, stats.quarantined) == (3, 0, 3)
    assert stats.quarantined_by_reason == {"schema.kind": 3}
    assert rig.seen[stream_topic("books")] == []


def test_books_with_a_sink_are_handed_over_and_streamed() -> None:
    rig = Rig()
    books: list[Any] = []
    pipeline = rig.pipeline("books", book_sink=books.append)
    book = RawBook("binance", "BTCUSDT", [["20377.0", "1.77"]], [["20377.1", "0.5"]], 1667346579146)
    assert pipeline.push(book)
    assert len(books) == 1
    assert books[0].instrument_id == "BTC/USDT@binance"
    assert not pipeline.push(RawBook("binance", "BTCUSDT", "junk", [], 1667346579146))
    stats = pipeline.metrics.snapshot()
    assert (stats.received, stats.published, stats.quarantined) == (2, 1, 1)
    assert [m.payload for m in rig.seen[stream_topic("books")]] == books


def test_quarantine_batches_to_its_sink_and_stays_bounded() -> None:
    batches: list[list[QuarantinedRecord]] = []
    rig = Rig()
    rig.quarantine = Quarantine(capacity=100, sink=batches.append)
    pipeline = rig.pipeline("junk")
    for i in range(1234):
        pipeline.push(RawTrade("binance", "BTCUSDT", "nan", 1, "buy", i))
    assert [len(b) for b in batches] == [500, 500]
    rig.quarantine.flush()
    rig.quarantine.flush()
    assert [len(b) for b in batches] == [500, 500, 234]
    assert len(rig.quarantine.recent) == 100
    assert rig.quarantine.total == 1234
    assert rig.quarantine.by_reason == {"schema.price": 1234}


def test_describe_payload_survives_anything() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert describe_payload(Hostile()).startswith("<unprintable Hostile")
    assert describe_payload("x" * 5000).endswith("...(truncated)")
    assert len(describe_payload("x" * 5000)) == 2000 + len("...(truncated)")
