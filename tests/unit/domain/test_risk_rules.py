"""Pre-trade risk rules as pure functions: None when the order passes, else a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grekko.domain import risk
from grekko.domain.enums import OrderSide, TradingState

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_default_limits() -> None:
    limits = risk.RiskLimits()
    assert limits.max_position_qty is None
    assert limits.allowed_instruments == frozenset()
    assert limits.strategy_budget_pct == 1


@pytest.mark.parametrize("reducing", [True, False])
def test_trading_state_active_passes_and_halted_refuses_everything(reducing: bool) -> None:
    assert risk.check_trading_state(TradingState.ACTIVE, reducing) is None
    assert "HALTED" in (risk.check_trading_state(TradingState.HALTED, reducing) or "")


def test_trading_state_reducing_passes_only_reducing_orders() -> None:
    assert risk.check_trading_state(TradingState.REDUCING, True) is None
    assert "REDUCING" in (risk.check_trading_state(TradingState.REDUCING, False) or "")


def test_instrument_allowed_list() -> None:
    assert risk.check_instrument_allowed("BTC/USDT@paper", frozenset()) is None
    allowed = frozenset({"BTC/USDT@paper"})
    assert risk.check_instrument_allowed("BTC/USDT@paper", allowed) is None
    reason = risk.check_instrument_allowed("ETH/USDT@paper", allowed)
    assert reason is not None
    assert "ETH/USDT@paper" in reason


def test_notional_limit_is_inclusive() -> None:
    assert risk.check_notional(D(1000), D(1000)) is None
    reason = risk.check_notional(D("1000.01"), D(1000))
    assert reason is not None
    assert "exceeds max_order_notional" in reason


@pytest.mark.parametrize(
    ("price", "passes"),
    [(D(110), True), (D(90), True), (D("110.01"), False), (D("89.99"), False), (None, True)],
)
def test_price_band_around_the_last_price(price: Decimal | None, passes: bool) -> None:
    reason = risk.check_price_band(price, D(100), D("0.10"))
    assert (reason is None) is passes
    if reason is not None:
        assert "away from the last price 100" in reason


def test_price_band_needs_a_positive_last_price() -> None:
    assert risk.check_price_band(D(1000), D(0), D("0.10")) is None


@pytest.mark.parametrize(
    ("held", "side", "qty", "passes"),
    [
        (D(0), BUY, D(5), True),  # exactly at the limit
        (D(0), BUY, D("5.01"), False),
        (D(0), SELL, D(6), False),  # short beyond the limit
        (D(4), BUY, D(2), False),
        (D(8), SELL, D(2), True),  # already beyond (limit lowered): shrinking passes
        (D(8), BUY, D(1), False),
        (D(-8), BUY, D(1), True),
        (D(3), SELL, D(7), True),  # flip to -4, within the limit
        (D(3), SELL, D(9), False),  # flip to -6
    ],
)
def test_position_limit(held: Decimal, side: OrderSide, qty: Decimal, passes: bool) -> None:
    reason = risk.check_position_limit(held, side, qty, D(5))
    assert (reason is None) is passes
    if reason is not None:
        assert "max_position_qty 5" in reason


def test_position_limit_none_means_unlimited() -> None:
    assert risk.check_position_limit(D(0), BUY, D(10**9), None) is None


def test_balance_is_inclusive() -> None:
    assert risk.check_balance(D(100), D(100), "USDT") is None
    reason = risk.check_balance(D(100), D("100.0001"), "USDT")
    assert reason == "insufficient USDT: needs 100.0001, free 100"


@pytest.mark.parametrize(
    ("exposure", "equity", "passes"),
    [(D(1000), D(10000), True), (D("1000.01"), D(10000), False), (D(1), D(0), False)],
)
def test_budget_is_a_share_of_equity(exposure: Decimal, equity: Decimal, passes: bool) -> None:
    assert (risk.check_budget(exposure, equity, D("0.1")) is None) is passes


def test_budget_with_negative_equity_names_the_cause() -> None:
    assert risk.check_budget(D(1), D(-5), D(1)) == "portfolio equity is not positive"


@pytest.mark.parametrize(
    ("held", "side", "qty", "reduces"),
    [
        (D(0), SELL, D(1), False),
        (D(0), BUY, D(1), False),
        (D(2), SELL, D(1), True),
        (D(2), SELL, D(2), True),
        (D(2), SELL, D(3), False),  # would flip short
        (D(2), BUY, D(1), False),
        (D(-2), BUY, D(2), True),
        (D(-2), SELL, D(1), False),
    ],
)
def test_reduces_position(held: Decimal, side: OrderSide, qty: Decimal, reduces: bool) -> None:
    assert risk.reduces_position(held, side, qty) is reduces
