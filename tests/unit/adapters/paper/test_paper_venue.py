"""PaperVenue behaviour through the real kernel: where and when each order type fills, fees,
slippage, partial fills by volume, time in force, latency, reduce-only and cancels."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.core.errors import VenueError
from grekko.core.time import NS_PER_S, TestClock
from grekko.domain.enums import LiquiditySide, OrderSide, OrderStatus, TimeInForce
from grekko.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
)
from grekko.domain.instruments import Instrument, spot

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MAKER, TAKER = LiquiditySide.MAKER, LiquiditySide.TAKER
MINUTE = 60 * NS_PER_S
Harness = Any


def fills(h: Harness, cid: str | None = None) -> list[OrderFilled]:
    return [f for f in h.stored(OrderFilled) if cid is None or f.client_order_id == cid]


def px_liq(fill: OrderFilled) -> tuple[Decimal, LiquiditySide]:
    return fill.last_px, fill.liquidity


def status(h: Harness, cid: str) -> OrderStatus:
    return h.kernel.cache.order(cid).status  # type: ignore[no-any-return]


def on_next_bar(h: Harness, submit: Callable[[Any], str | None], price: float = 100.0) -> str:
    """The strategy submits on a bar closing at `price`; returns the client order id."""
    h.then(lambda ctx, bar: submit(ctx))
    h.flat_bar(price)
    cid = h.strategy.results[-1]
    assert isinstance(cid, str)
    return cid


def long(h: Harness, qty: str) -> None:
    on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(qty)))
    h.flat_bar(100)
    assert h.kernel.portfolio.position_qty(h.iid) == D(qty)


# ---- market -----------------------------------------------------------------------------------


def test_market_order_fills_at_the_next_bar_open(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(1)))
    submitted_at = h.clock.timestamp_ns()
    assert status(h, cid) is OrderStatus.ACCEPTED
    bar = h.bar(101.37, 103, 100, 102)
    [fill] = fills(h)
    assert px_liq(fill) == (D("101.37"), TAKER)
    assert fill.ts_event == bar.ts_open
    assert fill.fee == D("0.10137")
    assert fill.fee_currency == "USDT"
    assert fill.venue_order_id == f"P-{cid}"
    assert status(h, cid) is OrderStatus.FILLED
    events = h.stored_for(cid)
    assert [type(e) for e in events] == [
        OrderInitialized,
        OrderSubmitted,
        OrderAccepted,
        OrderFilled,
    ]
    assert events[2].ts_event == submitted_at
    assert h.strategy.fills == [fill]


def test_fill_prices_are_quantized_to_the_tick(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(instrument=spot("BTC/USDT", price_increment="0.5"))
    on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(1)))
    h.flat_bar(100.74)
    assert fills(h)[0].last_px == D("100.5")


# ---- limit -----------------------------------------------------------------------------------


def test_resting_limit_buy_fills_at_its_price_only_when_the_low_trades_through(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    cid = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D(1), D(99)))
    h.bar(100, 101, 99, 100)  # touches 99: not enough for a resting order
    assert fills(h) == []
    h.bar(100, 100, 98.99, 99.5)
    [fill] = fills(h)
    assert px_liq(fill) == (D(99), MAKER)
    assert status(h, cid) is OrderStatus.FILLED


def test_limit_buy_fills_at_the_open_when_the_bar_gaps_below(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D(1), D(99)))
    h.bar(97, 98, 96, 97.5)
    assert px_liq(fills(h)[0]) == (D(97), TAKER)


def test_limit_fills_on_a_touch_when_limits_are_not_strict(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(strict_limits=False))
    on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D(1), D(99)))
    h.bar(100, 101, 99, 100)
    assert px_liq(fills(h)[0]) == (D(99), MAKER)


def test_limit_sell_mirrors_the_buy(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    long(h, "2")
    first = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, SELL, D(1), D(101)))
    second = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, SELL, D(1), D(102)))
    h.bar(100, 101, 99, 100)  # touches 101
    assert fills(h, first) == []
    h.bar(100, 101.01, 99, 100)
    assert px_liq(fills(h, first)[0]) == (D(101), MAKER)
    h.bar(103, 104, 102.5, 103)  # gaps above 102
    assert px_liq(fills(h, second)[0]) == (D(103), TAKER)


# ---- stops ------------------------------------------------------------------------------------


def test_stop_market_triggers_at_the_trigger_price(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    cid = on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, BUY, D(1), D(105)))
    h.bar(100, 104.99, 99, 104)
    assert status(h, cid) is OrderStatus.ACCEPTED
    h.bar(104, 106, 103, 105.5)
    [fill] = fills(h)
    assert px_liq(fill) == (D(105), TAKER)
    assert [type(e) for e in h.stored_for(cid)][-2:] == [OrderTriggered, OrderFilled]


def test_stop_market_fills_at_the_open_on_a_gap(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, BUY, D(1), D(105)))
    h.bar(107, 108, 106, 107)
    assert px_liq(fills(h)[0]) == (D(107), TAKER)


def test_sell_stop_triggers_on_the_low_and_on_a_gap_down(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    long(h, "2")
    touch = on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, SELL, D(1), D(95)))
    h.bar(100, 100, 94, 96)
    assert px_liq(fills(h, touch)[0]) == (D(95), TAKER)
    gap = on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, SELL, D(1), D(91)), price=96)
    h.bar(90, 91, 89, 90)
    assert px_liq(fills(h, gap)[0]) == (D(90), TAKER)


def test_stop_limit_fills_at_the_trigger_when_the_limit_allows(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    cid = on_next_bar(
        h, lambda ctx: ctx.submit_stop(h.iid, BUY, D(1), D(105), limit_price=D("105.5"))
    )
    h.bar(100, 107, 99, 106)
    assert px_liq(fills(h, cid)[0]) == (D(105), TAKER)


def test_stop_limit_that_gaps_past_its_limit_waits_triggered(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    cid = on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, BUY, D(1), D(105), limit_price=D(106)))
    h.bar(108, 110, 107.5, 109)  # triggered at 108, above the 106 limit
    assert status(h, cid) is OrderStatus.TRIGGERED
    assert fills(h) == []
    h.bar(107, 107, 105, 106)  # trades through 106
    assert px_liq(fills(h, cid)[0]) == (D(106), MAKER)
    assert status(h, cid) is OrderStatus.FILLED


def test_stops_are_matched_before_limits_within_one_bar(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    long(h, "2")
    take_profit = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, SELL, D(1), D(109)))
    stop_loss = on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, SELL, D(1), D(95)))
    h.bar(100, 111, 94, 100)  # both levels inside one bar: assume the loss came first
    assert [f.client_order_id for f in fills(h)][-2:] == [stop_loss, take_profit]
    assert [f.last_px for f in fills(h)][-2:] == [D(95), D(109)]


# ---- costs -----------------------------------------------------------------------------------


def test_slippage_moves_market_fills_against_the_trader(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(slippage_bps=D(10)))
    long(h, "2")
    assert fills(h)[0].last_px == D("100.10")
    on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, SELL, D(1)))
    h.flat_bar(100)
    assert fills(h)[1].last_px == D("99.90")


def test_slippage_never_fills_a_limit_beyond_its_price(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(slippage_bps=D(10)))
    on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D(1), D(99)))
    h.bar(100, 100, 98, 99)
    assert fills(h)[0].last_px <= D(99)


def test_maker_and_taker_fees(make_harness: Callable[..., Harness]) -> None:
    instrument = Instrument(
        symbol="BTC/USDT",
        venue="paper",
        base="BTC",
        quote="USDT",
        price_increment=D("0.01"),
        size_increment=D("0.0001"),
        maker_fee=D("0.0002"),
        taker_fee=D("0.001"),
    )
    h = make_harness(instrument=instrument)
    maker = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D("0.5"), D(99)))
    taker = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D("0.5")))
    h.bar(100, 100, 98, 99)
    assert fills(h, taker)[0].fee == D("0.05")  # 0.5 x 100 x 0.001
    assert fills(h, maker)[0].fee == D("0.0099")  # 0.5 x 99 x 0.0002
    assert fills(h, maker)[0].liquidity is MAKER


def test_post_only_never_takes_liquidity(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    cid = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D(1), D(105), post_only=True))
    h.flat_bar(100)
    assert all(f.liquidity is MAKER for f in fills(h, cid))
    assert status(h, cid) in (OrderStatus.CANCELED, OrderStatus.REJECTED)


def test_min_notional_rejects_small_limit_orders(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(instrument=spot("BTC/USDT", min_notional="10"))
    cid = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D("0.05"), D(100)))
    assert type(h.stored_for(cid)[-1]) is OrderRejected
    assert h.stored_for(cid)[-1].reason == "paper: below min notional"


# ---- volume participation and time in force ----------------------------------------------------


def test_volume_participation_splits_a_big_order_across_bars(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.1")))
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D("2.5")))
    seen = []
    for price in (100, 101, 102):
        h.bar(price, price + 1, price - 1, price, volume=10)
        seen.append((status(h, cid), h.kernel.cache.order(cid).filled_qty))
    assert seen == [
        (OrderStatus.PARTIALLY_FILLED, D(1)),
        (OrderStatus.PARTIALLY_FILLED, D(2)),
        (OrderStatus.FILLED, D("2.5")),
    ]
    assert [(f.last_qty, f.last_px) for f in fills(h)] == [
        (D(1), D(100)),
        (D(1), D(101)),
        (D("0.5"), D(102)),
    ]
    assert h.kernel.cache.order(cid).avg_px == D("100.8")  # (100 + 101 + 51) / 2.5


def test_volume_participation_is_shared_by_all_orders_in_a_bar(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.5")))
    h.flat_bar(100)
    first = h.ctx.submit_market(h.iid, BUY, D(3))
    second = h.ctx.submit_market(h.iid, BUY, D(3))
    h.flat_bar(100, volume=8)  # 4 for everyone
    assert [(f.client_order_id, f.last_qty) for f in fills(h)] == [(first, 3), (second, 1)]


def test_volume_participation_is_exact(make_harness: Callable[..., Harness]) -> None:
    # 70 % of 3.0 is 2.1, not the 2.0999999999999996 of float arithmetic
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.7")))
    on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(5)))
    h.flat_bar(100, volume=3.0)
    assert fills(h)[0].last_qty == D("2.1")


def test_ioc_remainder_is_canceled(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.1")))
    cid = on_next_bar(
        h, lambda ctx: ctx.submit_market(h.iid, BUY, D(2), time_in_force=TimeInForce.IOC)
    )
    h.flat_bar(100, volume=10)
    assert [f.last_qty for f in fills(h)] == [D(1)]
    assert status(h, cid) is OrderStatus.CANCELED
    assert h.stored_for(cid)[-1].reason == "IOC remainder"
    h.flat_bar(100, volume=10)
    assert len(fills(h)) == 1


def test_ioc_limit_that_cannot_fill_at_once_is_canceled(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    cid = on_next_bar(
        h, lambda ctx: ctx.submit_limit(h.iid, BUY, D(1), D(95), time_in_force=TimeInForce.IOC)
    )
    h.bar(100, 100, 96, 98)
    assert status(h, cid) is OrderStatus.CANCELED
    h.bar(90, 90, 90, 90)
    assert fills(h) == []


def test_fok_is_canceled_when_it_cannot_fill_completely(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.1")))
    h.flat_bar(100)
    partial = h.ctx.submit_market(h.iid, BUY, D(2), time_in_force=TimeInForce.FOK)
    h.flat_bar(100, volume=10)
    assert fills(h) == []
    assert status(h, partial) is OrderStatus.CANCELED
    assert "FOK" in h.stored_for(partial)[-1].reason
    whole = h.ctx.submit_market(h.iid, BUY, D(1), time_in_force=TimeInForce.FOK)
    h.flat_bar(100, volume=10)
    assert [f.last_qty for f in fills(h, whole)] == [D(1)]
    assert status(h, whole) is OrderStatus.FILLED


# ---- latency -----------------------------------------------------------------------------------


def test_latency_delays_arrival_to_the_first_bar_opening_after_it(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(latency_ns=90 * NS_PER_S))
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(1)))
    arrival = h.clock.timestamp_ns() + 90 * NS_PER_S
    bar = h.flat_bar(101)  # opens 60 s after the submit: too early
    assert bar.ts_open < arrival
    assert status(h, cid) is OrderStatus.SUBMITTED
    assert cid in h.venue.open_order_ids()
    h.flat_bar(102)  # opens 30 s before the arrival: still too early
    assert status(h, cid) is OrderStatus.SUBMITTED
    bar = h.bar(103, 104, 102, 103)
    assert bar.ts_open >= arrival
    accepted = h.stored_for(cid)[2]
    assert type(accepted) is OrderAccepted
    assert accepted.ts_event == bar.ts_open
    [fill] = fills(h)
    assert (fill.last_px, fill.ts_event) == (D(103), bar.ts_open)


def test_an_arrival_exactly_at_a_bar_open_is_matched_on_that_bar(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(latency_ns=MINUTE))
    on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(1)))
    h.flat_bar(101)  # opens at the submit itself
    assert fills(h) == []
    h.flat_bar(102)  # opens at submit + latency
    assert fills(h)[0].last_px == D(102)


def test_an_order_canceled_in_flight_never_arrives(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(venue=PaperVenueConfig(latency_ns=10 * MINUTE))
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(1)))
    h.ctx.cancel(cid)
    assert status(h, cid) is OrderStatus.CANCELED
    assert h.venue.open_order_ids() == set()
    for _ in range(12):
        h.flat_bar(100)
    assert fills(h) == []
    assert not any(type(e) is OrderAccepted for e in h.stored_for(cid))


# ---- reduce-only and cancel ----------------------------------------------------------------------


def test_reduce_only_is_clipped_to_the_position(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(margin=True)
    long(h, "1")
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, SELL, D(2), reduce_only=True))
    h.flat_bar(100)
    h.flat_bar(100)
    assert [f.last_qty for f in fills(h, cid)] == [D(1)]
    assert h.kernel.portfolio.position_qty(h.iid) == 0
    assert status(h, cid) is OrderStatus.CANCELED


def test_reduce_only_that_would_grow_the_position_is_canceled(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(margin=True)
    long(h, "1")
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(1), reduce_only=True))
    h.flat_bar(100)
    assert fills(h, cid) == []
    assert status(h, cid) is OrderStatus.CANCELED
    assert "reduce-only" in h.stored_for(cid)[-1].reason
    assert h.kernel.portfolio.position_qty(h.iid) == 1


def test_two_reduce_only_sells_never_flip_the_position(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(margin=True)
    long(h, "1")
    h.ctx.submit_market(h.iid, SELL, D(1), reduce_only=True)
    late = h.ctx.submit_market(h.iid, SELL, D(1), reduce_only=True)
    h.flat_bar(100)
    assert h.kernel.portfolio.position_qty(h.iid) == 0
    assert fills(h, late) == []
    assert status(h, late) is OrderStatus.CANCELED


def test_a_canceled_working_order_does_not_fill(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    cid = on_next_bar(h, lambda ctx: ctx.submit_limit(h.iid, BUY, D(1), D(99)))
    assert h.venue.open_order_ids() == {cid}
    h.then(lambda ctx, bar: ctx.cancel(cid))
    h.flat_bar(100)
    assert type(h.stored_for(cid)[-1]) is OrderCanceled
    assert h.venue.open_order_ids() == set()
    h.bar(90, 90, 90, 90)
    assert fills(h) == []


# ---- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (PaperVenueConfig(volume_participation=D(0)), "volume_participation"),
        (PaperVenueConfig(volume_participation=D("1.01")), "volume_participation"),
        (PaperVenueConfig(latency_ns=-1), "latency"),
    ],
)
def test_invalid_configuration_is_refused(config: PaperVenueConfig, message: str) -> None:
    with pytest.raises(VenueError, match=message):
        PaperVenue(config, lambda _: None, TestClock(), lambda _: D(0))


def test_an_unbound_venue_refuses_to_report(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    venue = PaperVenue(PaperVenueConfig(name="loose"), h.kernel.cache.instrument, h.clock, str)
    h.flat_bar(100)
    cid = h.ctx.submit_limit(h.iid, BUY, D(1), D(99))
    with pytest.raises(VenueError, match="not bound"):
        venue.submit_order(h.kernel.cache.order(cid))


# ---- combinations --------------------------------------------------------------------------------


def test_fok_is_never_part_filled_by_the_cash_cap(make_harness: Callable[..., Harness]) -> None:
    # risk passed at the close; the open gapped up so the cash pays only part: FOK means none
    h = make_harness(cash="1000")
    cid = on_next_bar(
        h, lambda ctx: ctx.submit_market(h.iid, BUY, D("9.9"), time_in_force=TimeInForce.FOK)
    )
    h.flat_bar(110)
    assert fills(h, cid) == []
    assert status(h, cid) is OrderStatus.CANCELED
    assert h.kernel.portfolio.account.total("USDT") == D(1000)


def test_a_gap_beyond_the_cash_fills_what_the_cash_pays_for(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(cash="1000")
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D("9.9")))
    h.flat_bar(110)
    [fill] = fills(h, cid)
    assert fill.last_qty * fill.last_px + fill.fee <= D(1000)
    assert h.kernel.portfolio.account.total("USDT") >= 0
    h.flat_bar(110)
    assert not h.kernel.cache.order(cid).is_open  # the unpayable rest does not wait forever


def test_a_triggered_stop_limit_keeps_filling_without_triggering_again(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.1")))
    cid = on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, BUY, D(3), D(105), limit_price=D(106)))
    for _ in range(3):
        h.bar(105.5, 106, 104, 105.5, volume=10)
    assert [f.last_qty for f in fills(h, cid)] == [D(1), D(1), D(1)]
    assert sum(type(e) is OrderTriggered for e in h.stored_for(cid)) == 1
    assert status(h, cid) is OrderStatus.FILLED
    assert h.kernel.bus.handler_errors == 0


def test_cancel_after_a_partial_fill_keeps_what_filled(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.1")))
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(3)))
    h.flat_bar(100, volume=10)
    h.ctx.cancel(cid)
    order = h.kernel.cache.order(cid)
    assert (order.status, order.filled_qty) == (OrderStatus.CANCELED, D(1))
    h.flat_bar(100, volume=10)
    assert h.kernel.portfolio.position_qty(h.iid) == D(1)


def test_kill_switch_cancels_orders_still_in_flight(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(venue=PaperVenueConfig(latency_ns=10 * MINUTE))
    cid = on_next_bar(h, lambda ctx: ctx.submit_market(h.iid, BUY, D(1)))
    assert h.kernel.risk.kill_switch("drill") == 1
    canceled = h.stored_for(cid)[-1]
    assert type(canceled) is OrderCanceled
    assert "kill switch" in canceled.reason
    for _ in range(12):
        h.flat_bar(100)
    assert fills(h) == []


def test_trades_trigger_stops_and_fill_market_orders(make_harness: Callable[..., Harness]) -> None:
    from grekko.domain.data import TradeTick

    h = make_harness()
    stop = on_next_bar(h, lambda ctx: ctx.submit_stop(h.iid, BUY, D(1), D(105)))
    market = h.ctx.submit_market(h.iid, BUY, D(1))
    ts = h.clock.timestamp_ns()
    for n, price in enumerate((101.0, 104.0, 106.5)):
        h.clock.set_time(ts + (n + 1) * NS_PER_S)
        h.kernel.data.process_trade(
            TradeTick(h.iid, price, 5.0, BUY, f"x{n}", h.clock.timestamp_ns())
        )
    assert px_liq(fills(h, market)[0]) == (D(101), TAKER)
    assert px_liq(fills(h, stop)[0]) == (D("106.5"), TAKER)  # the first trade at or past 105
