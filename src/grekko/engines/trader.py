"""The narrow context a strategy trades through: submit, cancel, cache reads, clock.

Strategies never touch engines directly; everything goes through `StrategyContext`, and orders
go to the RiskEngine's endpoint on the bus, so the same strategy runs in backtest, paper and live.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from grekko.core.ids import IdGenerator
from grekko.core.time import Clock
from grekko.domain.commands import CancelOrder, SubmitOrder
from grekko.domain.data import Bar, TradeTick
from grekko.domain.enums import OrderSide, OrderType, TimeInForce
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import bar_topic, trade_topic
from grekko.engines.execution_engine import ORDER_TOPIC
from grekko.engines.portfolio import Portfolio
from grekko.ports.trading import TradingStrategy

log = logging.getLogger("grekko.trader")

RISK_ENDPOINT = "risk.execute"


class StrategyContext:
    __slots__ = (
        "_bus",
        "_cache",
        "_ids",
        "_portfolio",
        "_subs",
        "clock",
        "strategy_id",
        "warming_up",
    )

    def __init__(
        self,
        strategy_id: str,
        bus: MessageBus,
        cache: Cache,
        clock: Clock,
        portfolio: Portfolio,
        ids: IdGenerator,
    ) -> None:
        self.strategy_id = strategy_id
        self._bus = bus
        self._cache = cache
        self.clock = clock
        self._portfolio = portfolio
        self._ids = ids
        self._subs: list[tuple[str, Callable[[Any], None]]] = []
        self.warming_up = False  # replaying history after a restart: decisions are not sent

    # ---- subscriptions -------------------------------------------------------------------------
    def subscribe_bars(self, instrument_id: str, handler: Callable[[Bar], None]) -> None:
        self._subscribe(bar_topic(instrument_id), handler)

    def subscribe_trades(self, instrument_id: str, handler: Callable[[TradeTick], None]) -> None:
        self._subscribe(trade_topic(instrument_id), handler)

    def _subscribe(self, topic: str, handler: Callable[[Any], None]) -> None:
        self._bus.subscribe(topic, handler)
        self._subs.append((topic, handler))

    def unsubscribe_all(self) -> None:
        for topic, handler in self._subs:
            self._bus.unsubscribe(topic, handler)
        self._subs.clear()

    # ---- orders ------------------------------------------------------------------------------------
    def submit_market(
        self,
        instrument_id: str,
        side: OrderSide,
        quantity: Decimal,
        *,
        reduce_only: bool = False,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> str | None:
        return self._submit(
            instrument_id,
            side,
            OrderType.MARKET,
            quantity,
            None,
            None,
            time_in_force,
            reduce_only,
            False,
        )

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
    ) -> str | None:
        return self._submit(
            instrument_id,
            side,
            OrderType.LIMIT,
            quantity,
            price,
            None,
            time_in_force,
            reduce_only,
            post_only,
        )

    def submit_stop(
        self,
        instrument_id: str,
        side: OrderSide,
        quantity: Decimal,
        trigger_price: Decimal,
        *,
        limit_price: Decimal | None = None,
        reduce_only: bool = False,
    ) -> str | None:
        order_type = OrderType.STOP_MARKET if limit_price is None else OrderType.STOP_LIMIT
        return self._submit(
            instrument_id,
            side,
            order_type,
            quantity,
            limit_price,
            trigger_price,
            TimeInForce.GTC,
            reduce_only,
            False,
        )

    def _submit(
        self,
        instrument_id: str,
        side: OrderSide,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None,
        trigger: Decimal | None,
        tif: TimeInForce,
        reduce_only: bool,
        post_only: bool,
    ) -> str | None:
        if self.warming_up:
            return None
        cmd = SubmitOrder(
            ts_init=self.clock.timestamp_ns(),
            client_order_id=self._ids.next(),
            strategy_id=self.strategy_id,
            instrument_id=instrument_id,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            trigger_price=trigger,
            time_in_force=tif,
            reduce_only=reduce_only,
            post_only=post_only,
        )
        self._bus.send(RISK_ENDPOINT, cmd)
        return cmd.client_order_id

    def cancel(self, client_order_id: str) -> None:
        if self.warming_up:
            return
        self._bus.send(
            RISK_ENDPOINT,
            CancelOrder(ts_init=self.clock.timestamp_ns(), client_order_id=client_order_id),
        )

    # ---- reads ---------------------------------------------------------------------------------------
    def instrument(self, instrument_id: str) -> Instrument:
        instrument = self._cache.instrument(instrument_id)
        if instrument is None:
            raise KeyError(f"unknown instrument {instrument_id}")
        return instrument

    def position(self, instrument_id: str) -> Decimal:
        """This strategy's own position: several strategies on one instrument (an agent's next
        to a plain one) each manage what they bought, not each other's holdings."""
        return self._portfolio.strategy_exposure(self.strategy_id, instrument_id)

    def is_flat(self, instrument_id: str) -> bool:
        return self._portfolio.strategy_exposure(self.strategy_id, instrument_id) == 0

    def last_price(self, instrument_id: str) -> Decimal | None:
        return self._cache.last_price(instrument_id)

    def last_bar(self, instrument_id: str) -> Bar | None:
        return self._cache.last_bar.get(instrument_id)

    def open_orders(self, instrument_id: str | None = None) -> list[Order]:
        return [
            o
            for o in self._cache.open_orders_for(instrument_id)
            if o.strategy_id == self.strategy_id
        ]


class Trader:
    """Starts and stops strategies, each with its own context and order-event subscription."""

    def __init__(self, bus: MessageBus, cache: Cache, clock: Clock, portfolio: Portfolio) -> None:
        self._bus = bus
        self._cache = cache
        self._clock = clock
        self._portfolio = portfolio
        self.strategies: dict[str, TradingStrategy] = {}
        self._contexts: dict[str, StrategyContext] = {}

    def add(self, strategy: TradingStrategy, *, ids_used: int = 0) -> StrategyContext:
        sid = strategy.strategy_id
        if sid in self.strategies:
            raise ValueError(f"strategy {sid!r} is already running")
        ids = IdGenerator(f"O-{sid}")
        if ids_used:
            ids.advance_past(ids_used)
        ctx = StrategyContext(sid, self._bus, self._cache, self._clock, self._portfolio, ids)
        strategy.bind(ctx)
        self.strategies[sid] = strategy
        self._contexts[sid] = ctx
        if getattr(strategy, "wants_order_events", True):
            self._bus.subscribe(f"{ORDER_TOPIC}.{sid}", strategy.on_order_event)
        strategy.on_start()
        return ctx

    def remove(self, strategy_id: str) -> None:
        strategy = self.strategies.pop(strategy_id)
        ctx = self._contexts.pop(strategy_id)
        strategy.on_stop()
        ctx.unsubscribe_all()
        self._bus.unsubscribe(f"{ORDER_TOPIC}.{strategy_id}", strategy.on_order_event)

    def context(self, strategy_id: str) -> StrategyContext:
        return self._contexts[strategy_id]
