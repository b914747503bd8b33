"""RiskEngine: every order passes here before execution; breakers and the kill switch live here.

Pre-trade checks are the pure rules of grekko.domain.risk. A denial becomes an OrderDenied event
with its reason; a state change becomes a TradingStateChanged event, both stored.
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal

from grekko.core.money import ZERO
from grekko.core.time import NS_PER_DAY, NS_PER_S, Clock
from grekko.domain import risk
from grekko.domain.agents import AGENT_ORDER_PREFIX, parse_agent_strategy_id
from grekko.domain.commands import (
    ActivateKillSwitch,
    CancelAllOrders,
    CancelOrder,
    SetTradingState,
    SubmitOrder,
)
from grekko.domain.enums import OrderSide, OrderType, TradingState
from grekko.domain.events import CircuitBreakerTripped, Event, TradingStateChanged
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.execution_engine import ExecutionEngine
from grekko.engines.portfolio import Portfolio
from grekko.ports.event_store import EventStore

log = logging.getLogger("grekko.risk")

RISK_STREAM = "risk"
RISK_TOPIC = "events.risk"


class RiskEngine:
    def __init__(
        self,
        bus: MessageBus,
        cache: Cache,
        clock: Clock,
        store: EventStore,
        portfolio: Portfolio,
        execution: ExecutionEngine,
        limits: risk.RiskLimits,
    ) -> None:
        self._bus = bus
        self._cache = cache
        self._clock = clock
        self._store = store
        self._portfolio = portfolio
        self._exec = execution
        self.limits = limits
        self.state = TradingState.ACTIVE
        self._recent: deque[int] = deque()
        self._day_start_equity = 0.0
        self._dd_fraction = float(limits.max_drawdown_pct)
        self._loss_fraction = float(limits.daily_loss_pct)
        self.denials = 0
        self.agent_limits: dict[str, risk.AgentLimit] = {}

    # ---- command entry ----------------------------------------------------------------------
    def execute(self, command: object) -> None:
        if type(command) is SubmitOrder:
            self.submit(command)
        elif type(command) is CancelOrder:
            self._exec.cancel(command)
        elif type(command) is CancelAllOrders:
            self._exec.cancel_all(command)
        elif type(command) is ActivateKillSwitch:
            self.kill_switch(command.reason)
        elif type(command) is SetTradingState:
            self.set_state(command.state, command.reason)
        else:
            raise TypeError(f"RiskEngine cannot execute {type(command).__name__}")

    def submit(self, cmd: SubmitOrder) -> None:
        if cmd.client_order_id in self._cache.orders:
            self._exec.submit(cmd)  # the engine drops and counts it; nothing is resent
            return
        reason = self.check(cmd)
        if reason is None:
            self._recent.append(self._clock.timestamp_ns())  # only orders that pass use a slot
            self._exec.submit(cmd)
        else:
            self.denials += 1
            log.info("order %s denied: %s", cmd.client_order_id, reason)
            self._exec.deny(cmd, reason)

    def check(self, cmd: SubmitOrder) -> str | None:
        """The first failing pre-trade rule's reason, or None."""
        limits = self.limits
        iid = cmd.instrument_id
        instrument = self._cache.instruments.get(iid)
        if instrument is None:
            return f"unknown instrument {iid}"
        held = self._portfolio.positions.get(iid)
        position = held.quantity if held is not None else ZERO
        if self.state is not TradingState.ACTIVE:
            reason = risk.check_trading_state(
                self.state, risk.reduces_position(position, cmd.side, cmd.quantity)
            )
            if reason:
                return reason
        if limits.allowed_instruments and iid not in limits.allowed_instruments:
            return risk.check_instrument_allowed(iid, limits.allowed_instruments)
        last = self._cache.last_price(iid)
        ref = cmd.price if cmd.price is not None else cmd.trigger_price or last
        if ref is None:
            return f"no price known for {iid} yet"
        notional = cmd.quantity * ref
        # optional rules are skipped without a call when they are not configured: this is the
        # per-order hot path of every backtest
        if notional > limits.max_order_notional:
            return risk.check_notional(notional, limits.max_order_notional)
        return (
            (
                self._check_agent(cmd, notional, position)
                if cmd.strategy_id.startswith(AGENT_ORDER_PREFIX)
                else None
            )
            or (self._check_band(cmd, last) if cmd.order_type is not OrderType.MARKET else None)
            or (
                risk.check_position_limit(position, cmd.side, cmd.quantity, limits.max_position_qty)
                if limits.max_position_qty is not None
                else None
            )
            or self._check_balance(
                cmd, notional, instrument.base, instrument.quote, instrument.taker_fee
            )
            or self._check_rate()
            or (self._check_budget(cmd, ref) if limits.strategy_budget_pct < 1 else None)
        )

    def set_limits(self, limits: risk.RiskLimits) -> None:
        """New limits at run time: the breakers' floor moves with them at once."""
        self.limits = limits
        self._dd_fraction = float(limits.max_drawdown_pct)
        self._loss_fraction = float(limits.daily_loss_pct)
        self._portfolio.drawdown_keep = 1.0 - self._dd_fraction
        self._update_floor()

    def set_agent_limit(self, limit: risk.AgentLimit) -> None:
        """Register or change an agent's cap; its orders are denied until one is registered."""
        self.agent_limits[limit.agent_id] = limit

    def _check_agent(self, cmd: SubmitOrder, notional: Decimal, position: Decimal) -> str | None:
        parsed = parse_agent_strategy_id(cmd.strategy_id)
        agent_id, strategy = parsed if parsed is not None else ("", "")
        return risk.check_agent_order(
            self.agent_limits.get(agent_id),
            agent_id,
            strategy,
            cmd.instrument_id,
            notional,
            self._portfolio.equity(),
            risk.reduces_position(position, cmd.side, cmd.quantity),
        )

    def _check_band(self, cmd: SubmitOrder, last: Decimal | None) -> str | None:
        if last is None or cmd.order_type is OrderType.MARKET:
            return None
        price = cmd.price if cmd.price is not None else cmd.trigger_price
        return risk.check_price_band(price, last, self.limits.price_band_pct)

    def _check_balance(
        self, cmd: SubmitOrder, notional: Decimal, base: str, quote: str, fee_rate: Decimal
    ) -> str | None:
        portfolio = self._portfolio
        if portfolio.account.margin:
            return None
        buy = cmd.side is OrderSide.BUY
        currency, needed = (quote, notional * (1 + fee_rate)) if buy else (base, cmd.quantity)
        free = portfolio.account.totals.get(currency, ZERO)
        if portfolio.account.locked or self._cache.open_orders:
            free = portfolio.free(currency)
        if needed > free:
            return risk.check_balance(free, needed, currency)
        return None

    def _check_rate(self) -> str | None:
        now = self._clock.timestamp_ns()
        recent = self._recent
        while recent and recent[0] <= now - NS_PER_S:
            recent.popleft()
        if len(recent) >= self.limits.max_orders_per_second:
            return f"order rate above {self.limits.max_orders_per_second}/s"
        return None

    def _check_budget(self, cmd: SubmitOrder, ref: Decimal) -> str | None:
        if self.limits.strategy_budget_pct >= 1:
            return None
        held = self._portfolio.strategy_exposure(cmd.strategy_id, cmd.instrument_id)
        after = held + (cmd.quantity if cmd.side is OrderSide.BUY else -cmd.quantity)
        if abs(after) <= abs(held):
            return None
        return risk.check_budget(
            abs(after) * ref, self._portfolio.equity(), self.limits.strategy_budget_pct
        )

    # ---- trading state, breakers, kill switch ---------------------------------------------------
    def set_state(self, state: TradingState, reason: str) -> None:
        if state is self.state:
            return
        self.state = state
        self._record(
            TradingStateChanged(ts_event=self._clock.timestamp_ns(), state=state, reason=reason)
        )
        log.warning("trading state -> %s: %s", state, reason)

    def kill_switch(self, reason: str) -> int:
        """Cancel every open order and halt. Returns how many orders were asked to cancel."""
        self.set_state(TradingState.HALTED, f"kill switch: {reason}")
        return self._exec.cancel_all(
            CancelAllOrders(ts_init=self._clock.timestamp_ns(), reason=f"kill switch: {reason}")
        )

    # ---- breakers: the portfolio calls these when equity crosses its floor or a day starts ----
    def watch(self) -> None:
        self._portfolio.on_floor_breached = self._on_floor_breached
        self._portfolio.on_new_day = self._on_new_day
        self._portfolio.drawdown_keep = 1.0 - self._dd_fraction

    def watermarks(self) -> tuple[float, float, int]:
        """(equity peak, equity at the start of the day, next day boundary): what breakers need."""
        p = self._portfolio
        return p.peak_equity_f, self._day_start_equity, p.next_day_ns

    def restore_watermarks(self, peak: float, day_start: float, next_day_ns: int) -> None:
        """After a restart: the drawdown and the day's loss continue from where they were."""
        p = self._portfolio
        p.peak_equity_f = max(p.peak_equity_f, peak)
        self._day_start_equity = day_start
        p.next_day_ns = next_day_ns
        self._update_floor()

    def _on_new_day(self, equity: float, ts_ns: int) -> None:
        self._day_start_equity = equity
        self._portfolio.next_day_ns = (ts_ns // NS_PER_DAY + 1) * NS_PER_DAY
        self._update_floor()

    def _update_floor(self) -> None:
        daily = self._day_start_equity * (1.0 - self._loss_fraction)
        drawdown = self._portfolio.peak_equity_f * (1.0 - self._dd_fraction)
        self._portfolio.equity_floor_f = max(daily, drawdown)

    def _on_floor_breached(self, equity: float, ts_ns: int) -> None:
        peak = self._portfolio.peak_equity_f
        drawdown_floor = peak * (1.0 - self._dd_fraction)
        self._update_floor()  # the peak may have risen since the floor was set
        if equity >= self._portfolio.equity_floor_f or self.state is TradingState.HALTED:
            return
        if equity < drawdown_floor:
            breaker = "max_drawdown"
            reason = f"equity {equity:.2f} is more than {self.limits.max_drawdown_pct:%} below the peak {peak:.2f}"
        else:
            breaker = "daily_loss"
            reason = f"equity {equity:.2f} fell more than {self.limits.daily_loss_pct:%} since the day began"
        self._record(CircuitBreakerTripped(ts_event=ts_ns, breaker=breaker, reason=reason))
        self.kill_switch(f"{breaker} breaker: {reason}")

    def _record(self, event: Event) -> None:
        self._store.append(RISK_STREAM, [event])
        self._bus.publish(RISK_TOPIC, event)
