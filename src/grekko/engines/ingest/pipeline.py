"""IngestPipeline: one source's raw records -> normalize -> validate -> enrich -> publish.

Publishing goes two ways: into the kernel through the DataEngine (cache + `data.*` bus topics
that strategies and agents read) and onto the source's DataStreamer stream (numbered messages
for the API, the UI and other processes). A record that fails a stage is quarantined with its
reason and counted; it reaches neither. Several venues of one symbol can share a
`VenueAggregator`, which then publishes `data.composite.<symbol>`.

Trade streams get bars too: the DataEngine aggregates each instrument's trades into
`bar_interval_ns` bars, and bars (from trades or from bar sources) are what the enricher's
indicators update on (it listens to `data.bars.*`; see `IngestService`).
"""

from __future__ import annotations

from collections.abc import Callable

from grekko.core.errors import DataError
from grekko.core.time import Clock
from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.order_book import DepthSnapshot
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.aggregator import VenueAggregator
from grekko.engines.ingest.enricher import Enricher
from grekko.engines.ingest.metrics import StreamMetrics
from grekko.engines.ingest.normalizer import Normalizer
from grekko.engines.ingest.quarantine import Quarantine, Rejected
from grekko.engines.ingest.validator import Validator
from grekko.engines.streamer import DataStreamer

BookSink = Callable[[DepthSnapshot], None]


def composite_topic(symbol: str) -> str:
    return f"data.composite.{symbol}"


class IngestPipeline:
    def __init__(
        self,
        stream_id: str,
        *,
        clock: Clock,
        data_engine: DataEngine,
        streamer: DataStreamer,
        enricher: Enricher,
        quarantine: Quarantine,
        normalizer: Normalizer | None = None,
        validator: Validator | None = None,
        aggregator: VenueAggregator | None = None,
        bar_interval_ns: int = 60 * 10**9,
        book_sink: BookSink | None = None,
    ) -> None:
        self.stream_id = stream_id
        self._clock = clock
        self._engine = data_engine
        self._streamer = streamer
        self._enricher = enricher
        self.quarantine = quarantine
        self.normalizer = normalizer or Normalizer()
        self.validator = validator or Validator(now_ns=clock.timestamp_ns)
        self._aggregator = aggregator
        self._bar_interval = bar_interval_ns
        self._book_sink = book_sink
        self.metrics: StreamMetrics = streamer.metrics.stream(stream_id)
        self._bars_from_trades: set[str] = set()
        self._publish = data_engine.bus.publish

    def push(self, raw: object) -> bool:
        """True when the record was published, False when it was quarantined."""
        kind = type(raw)
        if kind is RawTrade:
            return self.push_trade(raw)  # type: ignore[arg-type]
        if kind is RawBar:
            return self.push_bar(raw)  # type: ignore[arg-type]
        if kind is RawQuote:
            return self.push_quote(raw)  # type: ignore[arg-type]
        if kind is RawBook:
            return self.push_book(raw)  # type: ignore[arg-type]
        self.metrics.received += 1
        return self._reject(Rejected("schema.kind", f"unsupported record {kind.__name__}"), raw)

    def push_book(self, raw: RawBook) -> bool:
        """A whole L2 book: normalized, handed to the book sink (BookManager), then streamed."""
        self.metrics.received += 1
        sink = self._book_sink
        try:
            if sink is None:
                raise Rejected("schema.kind", "this stream has no order book sink")
            snapshot = self.normalizer.book(raw)
            sink(snapshot)
        except Rejected as error:
            return self._reject(error, raw)
        except DataError as error:  # e.g. a crossed book
            return self._reject(Rejected("book", str(error)), raw)
        self._out_book(snapshot)
        return True

    def push_trade(self, raw: RawTrade) -> bool:
        self.metrics.received += 1
        try:
            tick = self.normalizer.trade(raw)
            self.validator.trade(tick)
        except Rejected as error:
            return self._reject(error, raw)
        iid = tick.instrument_id
        if iid not in self._bars_from_trades:
            self._bars_from_trades.add(iid)
            self._engine.aggregate_bars_from_trades(iid, self._bar_interval)
        # the engine first: this trade may close the previous bar, whose indicator snapshot
        # (trade VWAP) must not count it yet
        self._engine.process_trade(tick)
        self._enricher.on_trade(tick)
        if self._aggregator is not None and self._aggregator.wanted(iid):
            composite = self._aggregator.on_trade(tick)
            self._publish(composite_topic(composite.symbol), composite)
        self._out(tick, tick.ts_event)
        return True

    def push_bar(self, raw: RawBar) -> bool:
        self.metrics.received += 1
        try:
            bar = self.normalizer.bar(raw)
            self.validator.bar(bar)
        except Rejected as error:
            return self._reject(error, raw)
        self._engine.process_bar(bar)
        self._out(bar, bar.ts_event)
        return True

    def push_quote(self, raw: RawQuote) -> bool:
        self.metrics.received += 1
        try:
            quote = self.normalizer.quote(raw)
            self.validator.quote(quote)
        except Rejected as error:
            return self._reject(error, raw)
        self._engine.process_quote(quote)
        if self._aggregator is not None and self._aggregator.wanted(quote.instrument_id):
            composite = self._aggregator.on_quote(quote)
            self._publish(composite_topic(composite.symbol), composite)
        self._out(quote, quote.ts_event)
        return True

    def _out(self, data: TradeTick | Bar | QuoteTick, ts_event: int) -> None:
        now = self._clock.timestamp_ns()
        self._streamer.publish(self.stream_id, data, now)
        self.metrics.on_published(now, ts_event)

    def _out_book(self, snapshot: DepthSnapshot) -> None:
        now = self._clock.timestamp_ns()
        self._streamer.publish(self.stream_id, snapshot, now)
        self.metrics.on_published(now, snapshot.ts)

    def _reject(self, error: Rejected, raw: object) -> bool:
        self.metrics.on_quarantined(error.reason)
        self.quarantine.add(self.stream_id, error, raw, self._clock.timestamp_ns())
        return False
