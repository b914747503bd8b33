"""Restart after a crash: a new kernel on the same event store rebuilds the very same balances,
positions, orders and trading state, and never sends a known client_order_id again."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.core.time import TestClock
from grekko.domain.commands import SetTradingState, SubmitOrder
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderStatus, OrderType, TradingState
from grekko.domain.events import OrderAccepted, OrderCanceled, OrderFilled
from grekko.engines.kernel import Kernel, RecoveryReport, describe

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
Harness = Any


def trade_a_little(h: Harness) -> dict[str, str]:
    """Fills, a partial fill left open, a resting limit, a denial, a cancel, a state change."""
    h.flat_bar(100)
    ids = {"big": h.ctx.submit_market(h.iid, BUY, D(3))}
    h.flat_bar(101, volume=4)  # participation 0.5: 2 of 3 fill
    ids["resting"] = h.ctx.submit_limit(h.iid, BUY, D("0.5"), D(95))
    ids["denied"] = h.ctx.submit_market(h.iid, SELL, D(100))
    ids["canceled"] = h.ctx.submit_limit(h.iid, BUY, D(1), D(96))
    h.ctx.cancel(ids["canceled"])
    h.flat_bar(102, volume=4)  # the last 1 fills
    ids["sell"] = h.ctx.submit_market(h.iid, SELL, D("1.25"))
    h.flat_bar(110, volume=100)
    ids["partial"] = h.ctx.submit_market(h.iid, BUY, D(3))
    h.flat_bar(108, volume=2)  # 1 of 3 fills, the order stays open
    state = SetTradingState(ts_init=0, state=TradingState.REDUCING, reason="test")
    h.kernel.bus.send("risk.execute", state)
    return ids


def recovered(h: Harness) -> tuple[Kernel, RecoveryReport]:
    kernel = Kernel(TestClock(h.clock.timestamp_ns()), h.store)
    kernel.add_instrument(h.instrument)
    return kernel, kernel.recover()


def test_a_new_kernel_on_the_same_store_rebuilds_the_same_state(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.5")))
    ids = trade_a_little(h)
    before = describe(h.kernel)
    assert before["orders"][ids["partial"]] == {
        "status": "partially_filled",
        "filled_qty": "1.000000",
    }
    assert before["trading_state"] == "reducing"

    kernel, report = recovered(h)

    assert describe(kernel) == before
    assert report.events == len(h.stored())
    assert report.orders == len(ids)
    assert report.orders_per_strategy == {"scripted": len(ids)}
    assert {o.client_order_id for o in report.open_orders} == {ids["resting"], ids["partial"]}
    assert kernel.portfolio.realized_pnl == h.kernel.portfolio.realized_pnl != 0
    assert kernel.portfolio.fees == h.kernel.portfolio.fees
    for cid, order in h.kernel.cache.orders.items():
        again = kernel.cache.order(cid)
        assert again.events == order.events
        assert (again.avg_px, again.fees, again.venue_order_id) == (
            order.avg_px,
            order.fees,
            order.venue_order_id,
        )
    kernel.data.process_bar(h.kernel.cache.last_bar[h.iid])  # the same mark (no venue here)
    assert kernel.portfolio.equity() == h.kernel.portfolio.equity()


def test_after_a_restart_trading_continues_without_resending_known_ids(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.5")))
    ids = trade_a_little(h)
    kernel, report = recovered(h)
    venue = PaperVenue(
        PaperVenueConfig(), kernel.cache.instrument, kernel.clock, kernel.portfolio.position_qty
    )
    kernel.add_venue(venue)
    venue.restore(report.open_orders)
    assert venue.open_order_ids() == {ids["resting"], ids["partial"]}
    strategy = type(h.strategy)(h.iid)
    ctx = kernel.trader.add(strategy, ids_used=report.orders_per_strategy["scripted"])
    kernel.bus.send(
        "risk.execute", SetTradingState(ts_init=0, state=TradingState.ACTIVE, reason="")
    )

    replayed = SubmitOrder(
        ts_init=0,
        client_order_id=ids["big"],
        strategy_id="scripted",
        instrument_id=h.iid,
        side=BUY,
        order_type=OrderType.MARKET,
        quantity=D(3),
    )
    accepted_before = len([r for r in h.store.read_all() if type(r.event) is OrderAccepted])
    kernel.bus.send("risk.execute", replayed)
    assert kernel.execution.duplicates_dropped == 1

    clock = kernel.clock
    assert isinstance(clock, TestClock)
    ts_open = clock.timestamp_ns()
    clock.set_time(ts_open + 60_000_000_000)
    kernel.data.process_bar(Bar(h.iid, 100, 100, 94, 96, 1000, ts_open, clock.timestamp_ns()))
    new_id = ctx.submit_market(h.iid, SELL, D(1))
    assert new_id == f"O-scripted-{len(ids) + 1}"
    accepted_after = len([r for r in h.store.read_all() if type(r.event) is OrderAccepted])
    assert accepted_after == accepted_before + 1  # only the new order reached the venue
    assert kernel.cache.order(ids["resting"]).status is OrderStatus.FILLED
    assert kernel.cache.order(ids["partial"]).status is OrderStatus.FILLED

    third, _ = recovered(h)
    assert describe(third) == describe(kernel)


def test_orders_no_venue_works_after_a_restart_are_canceled(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(venue=PaperVenueConfig(volume_participation=D("0.5")))
    ids = trade_a_little(h)
    kernel, _ = recovered(h)
    kernel.add_venue(
        PaperVenue(
            PaperVenueConfig(), kernel.cache.instrument, kernel.clock, kernel.portfolio.position_qty
        )
    )  # a venue that lost everything it was working
    lost = kernel.execution.cancel_unknown_to_venues("lost in the restart")
    assert sorted(lost) == sorted([ids["resting"], ids["partial"]])
    assert kernel.cache.open_orders_for() == []
    canceled = [r.event for r in h.store.read_all() if type(r.event) is OrderCanceled]
    assert [e.reason for e in canceled][-2:] == ["lost in the restart"] * 2
    fills_before = len([r for r in h.store.read_all() if type(r.event) is OrderFilled])
    assert describe(recovered(h)[0]) == describe(kernel)
    assert fills_before == len([r for r in h.store.read_all() if type(r.event) is OrderFilled])
