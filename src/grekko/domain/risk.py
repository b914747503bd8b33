"""Pre-trade risk rules as pure functions: each returns None when the order passes, else the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from grekko.domain.agents import PROFILES, AgentType
from grekko.domain.enums import OrderSide, TradingState


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_order_notional: Decimal = Decimal(1_000_000)
    max_position_qty: Decimal | None = None
    price_band_pct: Decimal = Decimal("0.10")
    max_orders_per_second: int = 50
    strategy_budget_pct: Decimal = Decimal(1)
    daily_loss_pct: Decimal = Decimal("0.05")
    max_drawdown_pct: Decimal = Decimal("0.20")
    allowed_instruments: frozenset[str] = field(default_factory=frozenset)


def check_trading_state(state: TradingState, reduces_position: bool) -> str | None:
    if state is TradingState.HALTED:
        return "trading is HALTED"
    if state is TradingState.REDUCING and not reduces_position:
        return "trading is REDUCING: only orders that shrink a position pass"
    return None


def check_instrument_allowed(instrument_id: str, allowed: frozenset[str]) -> str | None:
    if allowed and instrument_id not in allowed:
        return f"instrument {instrument_id} is not in the allowed list"
    return None


def check_notional(notional: Decimal, limit: Decimal) -> str | None:
    if notional > limit:
        return f"order notional {notional} exceeds max_order_notional {limit}"
    return None


def check_price_band(price: Decimal | None, last: Decimal, band: Decimal) -> str | None:
    if price is None or last <= 0:
        return None
    if abs(price - last) > last * band:
        return f"price {price} is more than {band:%} away from the last price {last}"
    return None


def check_position_limit(
    position_qty: Decimal, side: OrderSide, qty: Decimal, limit: Decimal | None
) -> str | None:
    if limit is None:
        return None
    after = position_qty + (qty if side is OrderSide.BUY else -qty)
    if abs(after) > limit and abs(after) > abs(position_qty):
        return f"position would be {after}, beyond max_position_qty {limit}"
    return None


def check_balance(free: Decimal, needed: Decimal, currency: str) -> str | None:
    if needed > free:
        return f"insufficient {currency}: needs {needed}, free {free}"
    return None


def check_budget(exposure_after: Decimal, equity: Decimal, budget_pct: Decimal) -> str | None:
    if equity <= 0:
        return "portfolio equity is not positive"
    if exposure_after > equity * budget_pct:
        return f"strategy exposure {exposure_after:.2f} would exceed {budget_pct:%} of equity {equity:.2f}"
    return None


def reduces_position(position_qty: Decimal, side: OrderSide, qty: Decimal) -> bool:
    if position_qty == 0:
        return False
    if (position_qty > 0) == (side is OrderSide.BUY):
        return False
    return qty <= abs(position_qty)


@dataclass(frozen=True, slots=True)
class AgentLimit:
    """An agent's per-trade cap and strategy list, as the risk engine enforces them.

    The cap can be configured lower than the agent type's hard cap, never higher: the
    constructor refuses it, so no configuration path can widen what an agent may do.
    """

    agent_id: str
    agent_type: AgentType
    max_trade_pct: Decimal
    approved_strategies: frozenset[str] | None = None  # None = any strategy
    instruments: frozenset[str] | None = None  # None = any instrument

    def __post_init__(self) -> None:
        hard = PROFILES[self.agent_type].max_trade_pct
        if not Decimal(0) <= self.max_trade_pct <= hard:
            raise ValueError(
                f"{self.agent_id}: per-trade cap {self.max_trade_pct:%} is outside 0..{hard:%}, "
                f"the hard cap of a {self.agent_type} agent"
            )


def check_agent_order(  # noqa: PLR0911 - one rule per return
    limit: AgentLimit | None,
    agent_id: str,
    strategy: str,
    instrument_id: str,
    notional: Decimal,
    equity: Decimal,
    reduces: bool,
) -> str | None:
    """An agent's order passes only within its cap; orders that shrink a position always may."""
    if limit is None:
        return f"agent {agent_id} has no risk budget registered with the risk engine"
    if limit.max_trade_pct <= 0:
        return f"agent {agent_id} is read-only: it never trades"
    if limit.instruments is not None and instrument_id not in limit.instruments:
        return f"agent {agent_id} may not trade {instrument_id} (allowed: {', '.join(sorted(limit.instruments))})"
    if limit.approved_strategies is not None and strategy not in limit.approved_strategies:
        approved = ", ".join(sorted(limit.approved_strategies)) or "none"
        return f"agent {agent_id} may only trade pre-approved strategies ({approved}), not {strategy!r}"
    if reduces:
        return None
    if equity <= 0:
        return "portfolio equity is not positive"
    cap = equity * limit.max_trade_pct
    if notional > cap:
        return (
            f"agent {agent_id} order notional {notional:.2f} exceeds its per-trade cap "
            f"{limit.max_trade_pct:%} of portfolio value {equity:.2f} ({cap:.2f})"
        )
    return None
