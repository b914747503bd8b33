"""What a strategy may do and see: the narrow trading context, as a Protocol.

Strategies (agents layer) depend on this port, never on the engines that implement it, so a
strategy runs unchanged in backtest, paper and live.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from grekko.core.time import Clock
from grekko.domain.data import Bar, TradeTick
from grekko.domain.enums import OrderSide, TimeInForce
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order


class TradingContext(Protocol):
    strategy_id: str
    clock: Clock
    warming_up: bool

    def subscribe_bars(self, instrument_id: str, handler: Callable[[Bar], None]) -> None: ...
    def subscribe_trades(
        self, instrument_id: str, handler: Callable[[TradeTick], None]
    ) -> None: ...
    def submit_market(
        self,
        instrument_id: str,
        side: OrderSide,
        quantity: Decimal,
        *,
        reduce_only: bool = False,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> str | None: ...
    def submit_limit(
        self,
        instrument_id: str,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        post_only: bool = False,
    ) -> str | None: ...
    def submit_stop(
        self,
        instrument_id: str,
        side: OrderSide,
        quantity: Decimal,
        trigger_price: Decimal,
        *,
        limit_price: Decimal | None = None,
        reduce_only: bool = False,
    ) -> str | None: ...
    def cancel(self, client_order_id: str) -> None: ...
    def instrument(self, instrument_id: str) -> Instrument: ...
    def position(self, instrument_id: str) -> Decimal: ...
    def is_flat(self, instrument_id: str) -> bool: ...
    def last_price(self, instrument_id: str) -> Decimal | None: ...
    def last_bar(self, instrument_id: str) -> Bar | None: ...
    def open_orders(self, instrument_id: str | None = None) -> list[Order]: ...


class TradingStrategy(Protocol):
    """What the trader needs from a strategy: an id, a context binding and the hooks."""

    strategy_id: str

    def bind(self, ctx: TradingContext) -> None: ...
    def on_start(self) -> None: ...
    def on_stop(self) -> None: ...
    def on_bar(self, bar: Bar) -> None: ...
    def on_trade(self, tick: TradeTick) -> None: ...
    def on_order_event(self, event: Any) -> None: ...
