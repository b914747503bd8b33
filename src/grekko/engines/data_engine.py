"""DataEngine: the single door for market data into the kernel.

It records the latest observation in the cache and publishes on `data.bars.<id>`,
`data.trades.<id>`, `data.quotes.<id>`; it also builds time bars from trades for anyone who
subscribes to bars of an instrument that only has trades.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache


def bar_topic(instrument_id: str) -> str:
    return f"data.bars.{instrument_id}"


def trade_topic(instrument_id: str) -> str:
    return f"data.trades.{instrument_id}"


def quote_topic(instrument_id: str) -> str:
    return f"data.quotes.{instrument_id}"


class TradeBarAggregator:
    """Time bars of a fixed interval from trades; a bar closes when a trade of the next interval arrives."""

    __slots__ = ("_bar", "_emit", "_interval", "_start", "instrument_id")

    def __init__(self, instrument_id: str, interval_ns: int, emit: Callable[[Bar], None]) -> None:
        if interval_ns <= 0:
            raise ValueError("bar interval must be positive")
        self.instrument_id = instrument_id
        self._interval = interval_ns
        self._emit = emit
        self._start = -1
        self._bar: list[float] = []

    def on_trade(self, tick: TradeTick) -> None:
        start = tick.ts_event - tick.ts_event % self._interval
        if start != self._start:
            self.flush()
            self._start = start
            self._bar = [tick.price, tick.price, tick.price, tick.price, tick.size]
            return
        b = self._bar
        b[1] = max(b[1], tick.price)
        b[2] = min(b[2], tick.price)
        b[3] = tick.price
        b[4] += tick.size

    def flush(self) -> None:
        if self._start < 0 or not self._bar:
            return
        o, h, low, c, v = self._bar
        end = self._start + self._interval
        self._emit(Bar(self.instrument_id, o, h, low, c, v, self._start, end))
        self._bar = []


class DataEngine:
    def __init__(self, bus: MessageBus, cache: Cache) -> None:
        self.bus = bus
        self._cache = cache
        self._bar_topics: dict[str, str] = {}
        self._last_bar = cache.last_bar
        self._publish = bus.publish
        self._aggregators: dict[str, TradeBarAggregator] = {}

    def process_bar(self, bar: Bar) -> None:
        iid = bar.instrument_id
        topic = self._bar_topics.get(iid)
        if topic is None:
            topic = self._bar_topics[iid] = bar_topic(iid)
        self._last_bar[iid] = bar
        self._publish(topic, bar)

    def process_trade(self, tick: TradeTick) -> None:
        iid = tick.instrument_id
        self._cache.last_trade[iid] = tick
        self.bus.publish(trade_topic(iid), tick)
        aggregator = self._aggregators.get(iid)
        if aggregator is not None:
            # after the trade is published: an order decided on the bar this trade closes
            # must not be matched against this same trade
            aggregator.on_trade(tick)

    def process_quote(self, quote: QuoteTick) -> None:
        iid = quote.instrument_id
        self._cache.last_quote[iid] = quote
        self.bus.publish(quote_topic(iid), quote)

    def process(self, data: Any) -> None:
        kind = type(data)
        if kind is Bar:
            self.process_bar(data)
        elif kind is TradeTick:
            self.process_trade(data)
        elif kind is QuoteTick:
            self.process_quote(data)
        else:
            raise TypeError(f"DataEngine cannot process {kind.__name__}")

    def aggregate_bars_from_trades(self, instrument_id: str, interval_ns: int) -> None:
        if instrument_id not in self._aggregators:
            self._aggregators[instrument_id] = TradeBarAggregator(
                instrument_id, interval_ns, self.process_bar
            )

    def flush_aggregators(self) -> None:
        for aggregator in self._aggregators.values():
            aggregator.flush()

    def subscribe_bars(
        self, instrument_id: str, handler: Callable[[Bar], None], priority: int = 0
    ) -> None:
        self.bus.subscribe(bar_topic(instrument_id), handler, priority)

    def subscribe_trades(
        self, instrument_id: str, handler: Callable[[TradeTick], None], priority: int = 0
    ) -> None:
        self.bus.subscribe(trade_topic(instrument_id), handler, priority)
