"""Events: facts, named in the past tense, immutable, appended to the event store before anything reads them."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from grekko.domain.enums import (
    LiquiditySide,
    OrderSide,
    OrderType,
    TimeInForce,
    TradingState,
)


class Event(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    ts_event: int


class OrderInitialized(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    post_only: bool = False


class OrderDenied(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    reason: str


class OrderSubmitted(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str


class OrderAccepted(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    venue_order_id: str


class OrderRejected(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    reason: str


class OrderTriggered(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str


class OrderFilled(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    venue_order_id: str
    trade_id: str
    instrument_id: str
    strategy_id: str
    side: OrderSide
    last_qty: Decimal
    last_px: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: LiquiditySide


class OrderCanceled(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    reason: str = ""


class OrderExpired(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str


class AccountFunded(Event, frozen=True, tag=True, kw_only=True):
    """Cash added (positive) or withdrawn (negative) outside trading."""

    account_id: str
    currency: str
    amount: Decimal


class TradingStateChanged(Event, frozen=True, tag=True, kw_only=True):
    state: TradingState
    reason: str


class CircuitBreakerTripped(Event, frozen=True, tag=True, kw_only=True):
    breaker: str  # daily_loss | max_drawdown
    reason: str


class PositionChanged(Event, frozen=True, tag=True, kw_only=True):
    """Derived from fills; published on the bus, never stored (it is a projection)."""

    instrument_id: str
    quantity: Decimal
    avg_px: Decimal
    realized_pnl: Decimal


OrderEvent = (
    OrderInitialized
    | OrderDenied
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderFilled
    | OrderCanceled
    | OrderExpired
)

StoredEvent = OrderEvent | AccountFunded | TradingStateChanged | CircuitBreakerTripped

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[StoredEvent] = msgspec.json.Decoder(StoredEvent)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes | str) -> StoredEvent:
    return _decoder.decode(payload)


def event_type_name(event: Event) -> str:
    return type(event).__name__
