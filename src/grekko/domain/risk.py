"""Pre-trade risk rules as pure functions: each returns None when the order passes, else the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

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
