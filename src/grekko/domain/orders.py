"""The Order aggregate: its state only moves through events, along the transitions of one table."""

from __future__ import annotations

from decimal import Decimal

from grekko.core.errors import InvalidStateTransition
from grekko.core.money import ZERO
from grekko.domain.enums import (
    TERMINAL_STATUSES,
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

S = OrderStatus
_FILL_TARGETS = "fill"  # resolved to PARTIALLY_FILLED or FILLED by quantity

# (status, event type) -> next status
_TRANSITIONS: dict[tuple[OrderStatus, type], OrderStatus | str] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderFilled): _FILL_TARGETS,
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderFilled): _FILL_TARGETS,
    (S.ACCEPTED, OrderCanceled): S.CANCELED,
    (S.ACCEPTED, OrderExpired): S.EXPIRED,
    (S.TRIGGERED, OrderFilled): _FILL_TARGETS,
    (S.TRIGGERED, OrderCanceled): S.CANCELED,
    (S.TRIGGERED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderFilled): _FILL_TARGETS,
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
}


class Order:
    """Mutable aggregate rebuilt from its events; never changed any other way."""

    __slots__ = (
        "avg_px",
        "client_order_id",
        "events",
        "fees",
        "filled_qty",
        "instrument_id",
        "is_open",
        "order_type",
        "post_only",
        "price",
        "quantity",
        "reduce_only",
        "side",
        "status",
        "strategy_id",
        "time_in_force",
        "trigger_price",
        "triggered",
        "ts_last",
        "venue_order_id",
    )

    def __init__(self, init: OrderInitialized) -> None:
        _validate(init)
        self.client_order_id = init.client_order_id
        self.strategy_id = init.strategy_id
        self.instrument_id = init.instrument_id
        self.side: OrderSide = init.side
        self.order_type: OrderType = init.order_type
        self.quantity: Decimal = init.quantity
        self.price = init.price
        self.trigger_price = init.trigger_price
        self.time_in_force: TimeInForce = init.time_in_force
        self.reduce_only = init.reduce_only
        self.post_only = init.post_only
        self.status: OrderStatus = S.INITIALIZED
        self.is_open = False  # accepted by the pipeline and not yet terminal
        self.triggered = False  # a stop whose trigger was hit, even if it has since part-filled
        self.filled_qty: Decimal = ZERO
        self.avg_px: Decimal = ZERO
        self.fees: Decimal = ZERO
        self.venue_order_id = ""
        self.ts_last = init.ts_event
        self.events: list[OrderEvent] = [init]

    @property
    def leaves_qty(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def apply(self, event: OrderEvent) -> None:
        target = _TRANSITIONS.get((self.status, type(event)))
        if target is None:
            raise InvalidStateTransition(
                f"order {self.client_order_id}: {type(event).__name__} not allowed in {self.status}"
            )
        if type(event) is OrderFilled:
            target = self._apply_fill(event)
        elif type(event) is OrderAccepted:
            self.venue_order_id = event.venue_order_id
        elif type(event) is OrderTriggered:
            self.triggered = True
        self.status = target  # type: ignore[assignment]
        self.is_open = target not in TERMINAL_STATUSES
        self.ts_last = event.ts_event
        self.events.append(event)

    def _apply_fill(self, fill: OrderFilled) -> OrderStatus:
        if fill.last_qty <= 0:
            raise InvalidStateTransition(f"order {self.client_order_id}: fill quantity must be > 0")
        new_filled = self.filled_qty + fill.last_qty
        if new_filled > self.quantity:
            raise InvalidStateTransition(
                f"order {self.client_order_id}: overfill {new_filled} > {self.quantity}"
            )
        if self.filled_qty:
            self.avg_px = (
                self.avg_px * self.filled_qty + fill.last_px * fill.last_qty
            ) / new_filled
        else:
            self.avg_px = fill.last_px
        self.filled_qty = new_filled
        self.fees += fill.fee
        if fill.venue_order_id:
            self.venue_order_id = fill.venue_order_id
        return S.FILLED if new_filled == self.quantity else S.PARTIALLY_FILLED


def _validate(init: OrderInitialized) -> None:
    oid = init.client_order_id
    if not oid:
        raise ValueError("client_order_id must not be empty")
    if init.quantity <= 0:
        raise ValueError(f"order {oid}: quantity must be positive, got {init.quantity}")
    needs_price = init.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_trigger = init.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
    if needs_price != (init.price is not None):
        raise ValueError(
            f"order {oid}: {init.order_type} {'needs' if needs_price else 'takes no'} price"
        )
    if needs_trigger != (init.trigger_price is not None):
        raise ValueError(
            f"order {oid}: {init.order_type} {'needs' if needs_trigger else 'takes no'} trigger_price"
        )
    if init.price is not None and init.price <= 0:
        raise ValueError(f"order {oid}: price must be positive")
    if init.trigger_price is not None and init.trigger_price <= 0:
        raise ValueError(f"order {oid}: trigger_price must be positive")
    if init.post_only and init.order_type is not OrderType.LIMIT:
        raise ValueError(f"order {oid}: post_only applies to limit orders only")
