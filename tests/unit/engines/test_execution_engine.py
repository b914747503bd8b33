"""ExecutionEngine through the real kernel: store before publish, at-most-once delivery of a
client_order_id, cancels, and venue routing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.core.errors import RoutingError
from grekko.domain.commands import CancelAllOrders, CancelOrder, SubmitOrder
from grekko.domain.enums import OrderSide, OrderStatus, OrderType
from grekko.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
)
from grekko.domain.risk import RiskLimits

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
Harness = Any


def submit_command(h: Harness, cid: str, **overrides: Any) -> SubmitOrder:
    fields: dict[str, Any] = {
        "ts_init": h.clock.timestamp_ns(),
        "client_order_id": cid,
        "strategy_id": "manual",
        "instrument_id": h.iid,
        "side": BUY,
        "order_type": OrderType.MARKET,
        "quantity": D(1),
    }
    fields.update(overrides)
    return SubmitOrder(**fields)


def test_the_same_client_order_id_reaches_the_venue_once(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.flat_bar(100)
    command = submit_command(h, "dup-1")
    h.kernel.bus.send("risk.execute", command)
    h.kernel.bus.send("risk.execute", command)
    assert len(h.stored(OrderAccepted)) == 1
    assert h.kernel.execution.duplicates_dropped == 1
    assert [type(e) for e in h.stored_for("dup-1")] == [
        OrderInitialized,
        OrderSubmitted,
        OrderAccepted,
    ]
    h.flat_bar(101)
    [fill] = h.stored(OrderFilled)
    assert fill.last_qty == 1
    h.kernel.bus.send("risk.execute", command)  # even after it filled
    assert h.kernel.execution.duplicates_dropped == 2
    assert len(h.stored(OrderFilled)) == 1
    assert h.kernel.portfolio.position_qty(h.iid) == 1


def test_a_denied_id_is_never_checked_or_sent_again(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=RiskLimits(max_order_notional=D(50)))
    h.flat_bar(100)
    h.kernel.bus.send("risk.execute", submit_command(h, "d-1"))
    h.kernel.risk.limits = RiskLimits()  # the same id would now pass the checks
    h.kernel.bus.send("risk.execute", submit_command(h, "d-1"))
    assert [type(e) for e in h.stored_for("d-1")] == [OrderInitialized, OrderDenied]
    assert h.kernel.execution.duplicates_dropped == 1
    assert h.kernel.risk.denials == 1


def test_every_order_event_is_stored_before_anyone_sees_it(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    seen: list[tuple[str, bool]] = []

    def check_stored(event: Any) -> None:
        stored = h.stored_for(event.client_order_id)
        seen.append((type(event).__name__, event in stored))

    h.kernel.bus.subscribe("events.order.*", check_stored)
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, BUY, D(1)))
    h.flat_bar(100)
    h.flat_bar(100)
    assert seen == [
        ("OrderInitialized", True),
        ("OrderSubmitted", True),
        ("OrderAccepted", True),
        ("OrderFilled", True),
    ]


def test_order_streams_carry_versions_in_step_with_the_aggregate(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, BUY, D(1)))
    h.flat_bar(100)
    h.flat_bar(100)
    [cid] = h.strategy.results
    order = h.kernel.cache.order(cid)
    assert h.store.stream_version(f"order-{cid}") == len(order.events) == 4
    assert [r.version for r in h.store.read(f"order-{cid}")] == [1, 2, 3, 4]


def test_cancel_a_working_order(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    h.flat_bar(100)
    cid = h.ctx.submit_limit(h.iid, BUY, D(1), D(95))
    h.ctx.cancel(cid)
    assert type(h.stored_for(cid)[-1]) is OrderCanceled
    assert h.kernel.cache.order(cid).status is OrderStatus.CANCELED
    assert h.ctx.open_orders() == []
    h.ctx.cancel(cid)  # cancelling a closed order is a no-op, not a new event
    assert len(h.stored_for(cid)) == 4


def test_cancel_of_an_unknown_order_raises_to_the_sender(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    with pytest.raises(RoutingError, match="unknown order 'nope'"):
        h.kernel.bus.send("risk.execute", CancelOrder(ts_init=0, client_order_id="nope"))


def test_cancel_all_per_instrument(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    h.flat_bar(100)
    cids = [h.ctx.submit_limit(h.iid, BUY, D(1), D(p)) for p in (95, 96, 97)]
    h.kernel.bus.send(
        "risk.execute", CancelAllOrders(ts_init=h.clock.timestamp_ns(), instrument_id="X@paper")
    )
    assert len(h.ctx.open_orders()) == 3
    h.kernel.bus.send("risk.execute", CancelAllOrders(ts_init=0, instrument_id=h.iid))
    assert h.ctx.open_orders() == []
    assert all(h.kernel.cache.order(c).status is OrderStatus.CANCELED for c in cids)


def test_unknown_command_type_is_a_programming_error(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    with pytest.raises(TypeError, match="cannot execute str"):
        h.kernel.bus.send("risk.execute", "buy everything")


def test_a_venue_name_registers_once(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    again = PaperVenue(PaperVenueConfig(), h.kernel.cache.instrument, h.clock, lambda _: D(0))
    with pytest.raises(RoutingError, match="already registered"):
        h.kernel.execution.add_venue(again)
    with pytest.raises(RoutingError, match="no venue named 'ftx'"):
        h.kernel.execution.venue("ftx")


def test_events_for_unknown_orders_are_dropped(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    before = len(h.stored())
    h.kernel.execution.handle_venue_event(OrderCanceled(ts_event=0, client_order_id="ghost"))
    assert len(h.stored()) == before
