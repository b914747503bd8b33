"""Strategies run inside an agent: the same strategy modules as in a plain backtest, but every
order they would place becomes the agent's proposal and goes through the vote.

`ProposingContext` is the strategy's TradingContext: reads, subscriptions and cancels go straight
to the kernel (canceling only ever lowers risk), and so do reduce-only orders such as protective
stops (the venue fills them only against an open position, so they can only take risk off, and
the risk engine still checks them); every other submission goes to the agent. `HostedStrategy`
is what the kernel's trader runs: it binds the inner strategy to that context and forwards the
order events, so the strategy sees its own fills exactly as in a backtest.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from grekko.core.time import Clock
from grekko.domain.agents import ProposalLeg
from grekko.domain.data import Bar, TradeTick
from grekko.domain.enums import OrderSide, OrderType, TimeInForce
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order
from grekko.ports.trading import TradingContext


class Proposer(Protocol):
    """The agent side of a hosted strategy: turn an intended order into a proposal."""

    def propose_order(self, strategy: str, leg: ProposalLeg, rationale: str) -> str | None: ...


class ProposingContext:
    def __init__(self, inner: TradingContext, proposer: Proposer, strategy_name: str, host: Any):
        self._inner = inner
        self._proposer = proposer
        self._strategy_name = strategy_name
        self._host = host  # the strategy object, whose `rationale` explains each order
        self.strategy_id = inner.strategy_id
        self.clock: Clock = inner.clock

    @property
    def warming_up(self) -> bool:
        return self._inner.warming_up

    @warming_up.setter
    def warming_up(self, value: bool) -> None:
        self._inner.warming_up = value

    def subscribe_bars(self, instrument_id: str, handler: Callable[[Bar], None]) -> None:
        self._inner.subscribe_bars(instrument_id, handler)

    def subscribe_trades(self, instrument_id: str, handler: Callable[[TradeTick], None]) -> None:
        self._inner.subscribe_trades(instrument_id, handler)

    def _propose(self, leg: ProposalLeg) -> str | None:
        if self._inner.warming_up:
            return None
        rationale = str(getattr(self._host, "rationale", "") or "")
        return self._proposer.propose_order(self._strategy_name, leg, rationale)

    def submit_market(
        self,
        instrument_id: str,
        side: OrderSide,
        quantity: Decimal,
        *,
        reduce_only: bool = False,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> str | None:
        if reduce_only:
            return self._inner.submit_market(
                instrument_id, side, quantity, reduce_only=True, time_in_force=time_in_force
            )
        return self._propose(ProposalLeg(instrument_id=instrument_id, side=side, quantity=quantity))

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
        if reduce_only:
            return self._inner.submit_limit(
                instrument_id,
                side,
                quantity,
                price,
                time_in_force=time_in_force,
                reduce_only=True,
                post_only=post_only,
            )
        leg = ProposalLeg(
            instrument_id=instrument_id,
            side=side,
            quantity=quantity,
            order_type=OrderType.LIMIT,
            price=price,
        )
        return self._propose(leg)

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
        if reduce_only:
            return self._inner.submit_stop(
                instrument_id,
                side,
                quantity,
                trigger_price,
                limit_price=limit_price,
                reduce_only=True,
            )
        leg = ProposalLeg(
            instrument_id=instrument_id,
            side=side,
            quantity=quantity,
            order_type=OrderType.STOP_MARKET,
            price=trigger_price,
        )
        return self._propose(leg)

    def cancel(self, client_order_id: str) -> None:
        self._inner.cancel(client_order_id)

    def instrument(self, instrument_id: str) -> Instrument:
        return self._inner.instrument(instrument_id)

    def position(self, instrument_id: str) -> Decimal:
        return self._inner.position(instrument_id)

    def is_flat(self, instrument_id: str) -> bool:
        return self._inner.is_flat(instrument_id)

    def last_price(self, instrument_id: str) -> Decimal | None:
        return self._inner.last_price(instrument_id)

    def last_bar(self, instrument_id: str) -> Bar | None:
        return self._inner.last_bar(instrument_id)

    def open_orders(self, instrument_id: str | None = None) -> list[Order]:
        return self._inner.open_orders(instrument_id)


class HostedStrategy:
    """What the trader runs for a strategy inside an agent (strategy id `agent:<id>:<name>:<BASE-QUOTE>`)."""

    wants_order_events = True

    def __init__(self, strategy_id: str, strategy_name: str, inner: Any, proposer: Proposer):
        self.strategy_id = strategy_id
        self.strategy_name = strategy_name
        self.inner = inner
        self._proposer = proposer
        self.ctx: TradingContext | None = None

    def bind(self, ctx: TradingContext) -> None:
        self.ctx = ctx  # the real context: the agent executes approved orders through it
        self.inner.bind(ProposingContext(ctx, self._proposer, self.strategy_name, self.inner))

    def on_start(self) -> None:
        self.inner.on_start()

    def on_stop(self) -> None:
        self.inner.on_stop()

    def on_bar(self, bar: Bar) -> None:
        self.inner.on_bar(bar)

    def on_trade(self, tick: TradeTick) -> None:
        self.inner.on_trade(tick)

    def on_order_event(self, event: Any) -> None:
        self.inner.on_order_event(event)


class Executor:
    """A strategy with no logic of its own: the context through which an agent executes
    proposals that did not come from a hosted strategy (the API's, or propose_action's)."""

    wants_order_events = False

    def __init__(self, strategy_id: str) -> None:
        self.strategy_id = strategy_id
        self.ctx: TradingContext | None = None

    def bind(self, ctx: TradingContext) -> None:
        self.ctx = ctx

    def on_start(self) -> None:
        pass

    def on_stop(self) -> None:
        pass

    def on_bar(self, bar: Bar) -> None:
        pass

    def on_trade(self, tick: TradeTick) -> None:
        pass

    def on_order_event(self, event: Any) -> None:
        pass


def submit_leg(ctx: TradingContext, leg: ProposalLeg, quantity: Decimal) -> str | None:
    """Place one approved order through a real trading context."""
    if leg.order_type is OrderType.MARKET:
        return ctx.submit_market(leg.instrument_id, leg.side, quantity)
    if leg.price is None:
        raise ValueError(f"a {leg.order_type} order needs a price")
    if leg.order_type is OrderType.LIMIT:
        return ctx.submit_limit(leg.instrument_id, leg.side, quantity, leg.price)
    return ctx.submit_stop(leg.instrument_id, leg.side, quantity, leg.price)
