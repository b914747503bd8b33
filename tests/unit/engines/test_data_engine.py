"""DataEngine: the one door for market data; time bars aggregated from trades."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from grekko.core.time import NS_PER_S
from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.enums import OrderSide
from grekko.domain.events import OrderFilled
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine, TradeBarAggregator

IID = "BTC/USDT@paper"
MIN = 60 * NS_PER_S
T0 = 1_704_067_200 * NS_PER_S
Harness = Any


def trade(seconds: float, price: float, size: float = 1.0, n: int = 0) -> TradeTick:
    return TradeTick(IID, price, size, OrderSide.BUY, f"t{n}", T0 + int(seconds * NS_PER_S))


def engine() -> tuple[DataEngine, Cache, list[Bar]]:
    bus = MessageBus()
    cache = Cache()
    data = DataEngine(bus, cache)
    bars: list[Bar] = []
    data.subscribe_bars(IID, bars.append)
    return data, cache, bars


def test_trades_aggregate_into_time_bars_closed_by_the_next_interval() -> None:
    data, cache, bars = engine()
    data.aggregate_bars_from_trades(IID, MIN)
    for n, (sec, px, size) in enumerate(
        [(1, 100.0, 1.0), (30, 105.0, 2.0), (59.9, 99.0, 0.5), (60, 101.0, 1.0), (61, 102.0, 1.0)]
    ):
        data.process_trade(trade(sec, px, size, n))
        if n == 2:
            assert bars == []  # the first minute is still open
    assert bars == [Bar(IID, 100.0, 105.0, 99.0, 99.0, 3.5, T0, T0 + MIN)]
    assert cache.last_bar[IID] == bars[0]
    data.process_trade(trade(185, 90.0, 4.0, 9))  # minute 2 had no trade: no empty bar for it
    data.flush_aggregators()
    assert bars[1:] == [
        Bar(IID, 101.0, 102.0, 101.0, 102.0, 2.0, T0 + MIN, T0 + 2 * MIN),
        Bar(IID, 90.0, 90.0, 90.0, 90.0, 4.0, T0 + 3 * MIN, T0 + 4 * MIN),
    ]
    data.flush_aggregators()
    assert len(bars) == 3


def test_the_trade_that_closes_a_bar_is_published_before_that_bar() -> None:
    # venues must see the closing trade before any strategy can react to the bar it closes,
    # or an order decided on that bar would be matched against a print older than itself
    bus = MessageBus()
    data = DataEngine(bus, Cache())
    seen: list[tuple[str, float]] = []
    bus.subscribe(
        "data.*", lambda m: seen.append((type(m).__name__, m.close if type(m) is Bar else m.price))
    )
    data.aggregate_bars_from_trades(IID, MIN)
    data.process_trade(trade(1, 100.0))
    data.process_trade(trade(61, 101.0))
    assert seen == [("TradeTick", 100.0), ("TradeTick", 101.0), ("Bar", 100.0)]


def test_aggregator_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        TradeBarAggregator(IID, 0, lambda bar: None)


def test_process_dispatches_by_type_and_keeps_the_latest_in_the_cache() -> None:
    data, cache, bars = engine()
    bar = Bar(IID, 1.0, 2.0, 0.5, 1.5, 10.0, T0, T0 + MIN)
    tick = trade(120, 1.75)
    quote = QuoteTick(IID, 1.7, 1.8, 3.0, 4.0, T0 + 2 * MIN)
    for item in (bar, tick, quote):
        data.process(item)
    assert bars == [bar]
    assert cache.last_trade[IID] == tick
    assert cache.last_quote[IID] == quote
    assert cache.last_px_float(IID) == 1.75  # the trade is newer than the bar close
    with pytest.raises(TypeError, match="cannot process str"):
        data.process("bar")


def test_last_price_is_the_newest_observation_quantized() -> None:
    data, cache, _ = engine()
    from grekko.domain.instruments import spot

    cache.add_instrument(spot("BTC/USDT"))
    assert cache.last_price(IID) is None
    data.process_trade(trade(0, 100.004))
    assert cache.last_price(IID) == Decimal("100.00")
    data.process_bar(Bar(IID, 1.0, 2.0, 0.5, 101.236, 1.0, T0, T0 + MIN))
    assert cache.last_price(IID) == Decimal("101.24")


def test_a_strategy_on_aggregated_bars_trades_at_the_next_trade(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.kernel.data.aggregate_bars_from_trades(h.iid, MIN)
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, OrderSide.BUY, Decimal(1)))
    for n, (sec, px) in enumerate([(1, 100.0), (30, 101.0), (61, 102.5), (62, 103.0)]):
        h.clock.set_time(T0 + int(sec * NS_PER_S))
        h.kernel.data.process_trade(trade(sec, px, 1.0, n))
    [fill] = h.stored(OrderFilled)
    # the bar of minute 0 closes on the trade at 61 s; the order arrives after that trade was
    # matched, so the first price it can get is the trade at 62 s
    assert (fill.last_px, fill.ts_event) == (Decimal("103.00"), T0 + 62 * NS_PER_S)
