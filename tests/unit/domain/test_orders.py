"""The Order aggregate: every allowed transition, every forbidden one, fills, and order validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from grekko.core.errors import InvalidStateTransition
from grekko.domain.enums import (
    TERMINAL_STATUSES,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from grekko.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
)
from grekko.domain.orders import Order

S = OrderStatus
CID = "O-test-1"
QTY = Decimal(4)


def init(**overrides: Any) -> OrderInitialized:
    fields: dict[str, Any] = {
        "ts_event": 1,
        "client_order_id": CID,
        "strategy_id": "test",
        "instrument_id": "BTC/USDT@paper",
        "side": OrderSide.BUY,
        "order_type": OrderType.LIMIT,
        "quantity": QTY,
        "price": Decimal(100),
    }
    fields.update(overrides)
    return OrderInitialized(**fields)


def fill(qty: str, px: str, fee: str = "0", ts: int = 5) -> OrderFilled:
    return OrderFilled(
        ts_event=ts,
        client_order_id=CID,
        venue_order_id="V-1",
        trade_id=f"T-{qty}-{px}",
        instrument_id="BTC/USDT@paper",
        strategy_id="test",
        side=OrderSide.BUY,
        last_qty=Decimal(qty),
        last_px=Decimal(px),
        fee=Decimal(fee),
        fee_currency="USDT",
        liquidity=LiquiditySide.MAKER,
    )


def event_of(kind: type) -> OrderEvent:
    """One event of each kind; a fill is a partial fill of one unit."""
    if kind is OrderFilled:
        return fill("1", "100")
    if kind is OrderAccepted:
        return OrderAccepted(ts_event=3, client_order_id=CID, venue_order_id="V-1")
    if kind in (OrderDenied, OrderRejected):
        return kind(ts_event=3, client_order_id=CID, reason="because")  # type: ignore[no-any-return]
    return kind(ts_event=3, client_order_id=CID)  # type: ignore[no-any-return]


SUBMITTED = OrderSubmitted(ts_event=2, client_order_id=CID)
ACCEPTED = OrderAccepted(ts_event=3, client_order_id=CID, venue_order_id="V-1")

# the shortest path of events from INITIALIZED into each status
PATHS: dict[OrderStatus, list[OrderEvent]] = {
    S.INITIALIZED: [],
    S.DENIED: [OrderDenied(ts_event=2, client_order_id=CID, reason="risk")],
    S.SUBMITTED: [SUBMITTED],
    S.ACCEPTED: [SUBMITTED, ACCEPTED],
    S.REJECTED: [SUBMITTED, OrderRejected(ts_event=3, client_order_id=CID, reason="venue")],
    S.TRIGGERED: [SUBMITTED, ACCEPTED, OrderTriggered(ts_event=4, client_order_id=CID)],
    S.PARTIALLY_FILLED: [SUBMITTED, ACCEPTED, fill("1", "100")],
    S.FILLED: [SUBMITTED, ACCEPTED, fill("4", "100")],
    S.CANCELED: [SUBMITTED, ACCEPTED, OrderCanceled(ts_event=4, client_order_id=CID)],
    S.EXPIRED: [SUBMITTED, ACCEPTED, OrderExpired(ts_event=4, client_order_id=CID)],
}

# the specification of the state machine, written out independently of the implementation
ALLOWED: dict[tuple[OrderStatus, type], OrderStatus] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderFilled): S.PARTIALLY_FILLED,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderFilled): S.PARTIALLY_FILLED,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
}
EVENT_TYPES = (
    OrderDenied,
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderTriggered,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
)
FORBIDDEN = [
    (status, kind) for status in S for kind in EVENT_TYPES if (status, kind) not in ALLOWED
]


def order_in(status: OrderStatus) -> Order:
    order = Order(init())
    for event in PATHS[status]:
        order.apply(event)
    assert order.status is status
    return order


@pytest.mark.parametrize(("status", "kind"), list(ALLOWED), ids=str)
def test_every_allowed_transition(status: OrderStatus, kind: type) -> None:
    order = order_in(status)
    event = event_of(kind)
    order.apply(event)
    assert order.status is ALLOWED[status, kind]
    assert order.events[-1] is event
    assert order.ts_last == event.ts_event


@pytest.mark.parametrize(("status", "kind"), FORBIDDEN, ids=str)
def test_every_other_transition_is_refused_and_changes_nothing(
    status: OrderStatus, kind: type
) -> None:
    order = order_in(status)
    before = (order.status, len(order.events), order.filled_qty, order.ts_last)
    with pytest.raises(InvalidStateTransition, match=CID):
        order.apply(event_of(kind))
    assert (order.status, len(order.events), order.filled_qty, order.ts_last) == before


def test_terminal_statuses_accept_nothing_more() -> None:
    for status in TERMINAL_STATUSES:
        assert all((status, kind) not in ALLOWED for kind in EVENT_TYPES)
        assert order_in(status).is_terminal
        assert not order_in(status).is_open


def test_open_means_at_a_venue_and_not_terminal() -> None:
    opened = {s for s in S if order_in(s).is_open}
    assert opened == {S.SUBMITTED, S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED}


def test_fills_accumulate_quantity_fees_and_volume_weighted_average_price() -> None:
    order = order_in(S.ACCEPTED)
    order.apply(fill("1", "100", fee="0.1"))
    assert (order.status, order.filled_qty, order.leaves_qty) == (S.PARTIALLY_FILLED, 1, 3)
    assert order.avg_px == Decimal(100)
    order.apply(fill("2", "103", fee="0.2"))
    assert order.avg_px == Decimal(306) / Decimal(3)  # (100 + 2 x 103) / 3
    order.apply(fill("1", "94", fee="0.3"))
    assert order.status is S.FILLED
    assert order.filled_qty == QTY
    assert order.leaves_qty == 0
    assert order.avg_px == Decimal(100)  # (100 + 206 + 94) / 4
    assert order.fees == Decimal("0.6")
    assert order.venue_order_id == "V-1"


def test_a_fill_that_completes_the_quantity_exactly_is_filled() -> None:
    order = order_in(S.SUBMITTED)  # some venues fill before they acknowledge
    order.apply(fill("4", "99.5"))
    assert order.status is S.FILLED
    assert order.avg_px == Decimal("99.5")


@pytest.mark.parametrize("qty", ["5", "4.000001"])
def test_overfill_is_refused(qty: str) -> None:
    order = order_in(S.ACCEPTED)
    with pytest.raises(InvalidStateTransition, match="overfill"):
        order.apply(fill(qty, "100"))
    assert order.filled_qty == 0
    assert order.status is S.ACCEPTED


def test_overfill_after_a_partial_fill_is_refused() -> None:
    order = order_in(S.PARTIALLY_FILLED)
    with pytest.raises(InvalidStateTransition, match="overfill"):
        order.apply(fill("3.5", "100"))
    assert order.filled_qty == 1


@pytest.mark.parametrize("qty", ["0", "-1"])
def test_fill_quantity_must_be_positive(qty: str) -> None:
    order = order_in(S.ACCEPTED)
    with pytest.raises(InvalidStateTransition, match="must be > 0"):
        order.apply(fill(qty, "100"))


def test_accepted_records_the_venue_order_id() -> None:
    order = order_in(S.SUBMITTED)
    order.apply(OrderAccepted(ts_event=3, client_order_id=CID, venue_order_id="XYZ"))
    assert order.venue_order_id == "XYZ"


def test_order_copies_its_initial_event() -> None:
    event = init(
        side=OrderSide.SELL,
        order_type=OrderType.STOP_LIMIT,
        price=Decimal(90),
        trigger_price=Decimal(95),
        time_in_force=TimeInForce.IOC,
        reduce_only=True,
    )
    order = Order(event)
    assert order.side is OrderSide.SELL
    assert (order.price, order.trigger_price) == (Decimal(90), Decimal(95))
    assert order.time_in_force is TimeInForce.IOC
    assert order.reduce_only
    assert order.status is S.INITIALIZED
    assert order.events == [event]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"order_type": OrderType.LIMIT, "price": None}, "needs price"),
        ({"order_type": OrderType.MARKET, "price": Decimal(100)}, "takes no price"),
        (
            {"order_type": OrderType.STOP_LIMIT, "price": None, "trigger_price": Decimal(1)},
            "needs price",
        ),
        ({"order_type": OrderType.STOP_LIMIT}, "needs trigger_price"),
        ({"order_type": OrderType.STOP_MARKET, "price": None}, "needs trigger_price"),
        (
            {"order_type": OrderType.MARKET, "price": None, "trigger_price": Decimal(1)},
            "takes no trigger_price",
        ),
        ({"order_type": OrderType.LIMIT, "trigger_price": Decimal(1)}, "takes no trigger_price"),
        ({"order_type": OrderType.MARKET, "price": None, "post_only": True}, "post_only"),
        (
            {
                "order_type": OrderType.STOP_LIMIT,
                "trigger_price": Decimal(1),
                "post_only": True,
            },
            "post_only",
        ),
        ({"quantity": Decimal(0)}, "quantity must be positive"),
        ({"quantity": Decimal("-0.5")}, "quantity must be positive"),
        ({"price": Decimal(0)}, "price must be positive"),
        ({"price": Decimal(-1)}, "price must be positive"),
        (
            {"order_type": OrderType.STOP_MARKET, "price": None, "trigger_price": Decimal(0)},
            "trigger_price must be positive",
        ),
        ({"client_order_id": ""}, "client_order_id"),
    ],
)
def test_invalid_orders_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Order(init(**overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"order_type": OrderType.MARKET, "price": None},
        {"order_type": OrderType.LIMIT, "post_only": True},
        {"order_type": OrderType.STOP_MARKET, "price": None, "trigger_price": Decimal(95)},
        {"order_type": OrderType.STOP_LIMIT, "trigger_price": Decimal(95)},
    ],
)
def test_valid_orders_of_each_type(overrides: dict[str, Any]) -> None:
    assert Order(init(**overrides)).status is S.INITIALIZED
