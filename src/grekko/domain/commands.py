"""Commands: requests, named in the imperative, each with exactly one handler."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from grekko.domain.enums import OrderSide, OrderType, TimeInForce, TradingState


class Command(msgspec.Struct, frozen=True, kw_only=True):
    ts_init: int


class SubmitOrder(Command, frozen=True, kw_only=True):
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


class CancelOrder(Command, frozen=True, kw_only=True):
    client_order_id: str
    reason: str = ""


class CancelAllOrders(Command, frozen=True, kw_only=True):
    instrument_id: str | None = None
    reason: str = ""


class SetTradingState(Command, frozen=True, kw_only=True):
    state: TradingState
    reason: str


class ActivateKillSwitch(Command, frozen=True, kw_only=True):
    reason: str


class FundAccount(Command, frozen=True, kw_only=True):
    currency: str
    amount: Decimal
