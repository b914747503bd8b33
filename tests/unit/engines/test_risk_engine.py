"""RiskEngine through the real kernel: every denial is a stored OrderDenied with its reason; the
kill switch and the circuit breakers halt trading with stored TradingStateChanged events."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from grekko.core.errors import RoutingError
from grekko.core.time import NS_PER_DAY, NS_PER_S
from grekko.domain.commands import ActivateKillSwitch, SetTradingState, SubmitOrder
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderStatus, OrderType, TradingState
from grekko.domain.events import (
    CircuitBreakerTripped,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
    TradingStateChanged,
)
from grekko.domain.instruments import spot
from grekko.domain.risk import RiskLimits

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
Harness = Any


def denial(h: Harness, cid: str) -> str:
    """The stored reason of a denied order, after checking its whole stored history."""
    events = h.stored_for(cid)
    assert [type(e) for e in events] == [OrderInitialized, OrderDenied]
    assert h.kernel.cache.order(cid).status is OrderStatus.DENIED
    assert cid not in h.venue.open_order_ids()
    reason: str = events[1].reason
    return reason


def accepted(h: Harness, cid: str) -> bool:
    return any(type(e) is OrderAccepted for e in h.stored_for(cid))


def set_state(h: Harness, state: TradingState, reason: str = "test") -> None:
    command = SetTradingState(ts_init=h.clock.timestamp_ns(), state=state, reason=reason)
    h.kernel.bus.send("risk.execute", command)


def buy_and_fill(h: Harness, qty: str, price: float = 100.0) -> None:
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, BUY, D(qty)))
    h.flat_bar(price)
    h.flat_bar(price)
    assert h.kernel.portfolio.position_qty(h.iid) >= D(qty)


def test_notional_limit(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=RiskLimits(max_order_notional=D(1000)))
    h.flat_bar(100)
    too_big = h.ctx.submit_market(h.iid, BUY, D("10.01"))
    at_limit = h.ctx.submit_market(h.iid, BUY, D(10))
    assert "order notional 1001.0000 exceeds max_order_notional 1000" in denial(h, too_big)
    assert accepted(h, at_limit)
    assert h.kernel.risk.denials == 1


def test_limit_price_band_around_the_last_price(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    h.flat_bar(100)
    far = h.ctx.submit_limit(h.iid, BUY, D(1), D("110.01"))
    far_stop = h.ctx.submit_stop(h.iid, SELL, D(1), D("89.99"))
    edge = h.ctx.submit_limit(h.iid, BUY, D(1), D(110))
    assert "away from the last price 100.00" in denial(h, far)
    assert "away from the last price" in denial(h, far_stop)
    assert accepted(h, edge)


def test_market_orders_are_not_price_banded(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    h.flat_bar(100)
    assert accepted(h, h.ctx.submit_market(h.iid, BUY, D(1)))


def test_cash_balance_for_a_buy_includes_the_taker_fee(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(cash="1000")
    h.flat_bar(100)
    short_of_fee = h.ctx.submit_market(h.iid, BUY, D(10))  # 1000 + 1 fee > 1000
    assert denial(h, short_of_fee) == "insufficient USDT: needs 1001.00000, free 1000"
    assert accepted(h, h.ctx.submit_market(h.iid, BUY, D("9.99")))


def test_base_balance_for_a_sell(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    h.flat_bar(100)
    assert denial(h, h.ctx.submit_market(h.iid, SELL, D(1))) == (
        "insufficient BTC: needs 1, free 0"
    )


def test_open_orders_lock_the_funds_they_need(make_harness: Callable[..., Harness]) -> None:
    # two buys that each fit the cash but not together: the second must be denied, or the cash
    # account is overdrawn when both fill
    h = make_harness(cash="10000")
    h.flat_bar(100)
    first = h.ctx.submit_market(h.iid, BUY, D(60))
    second = h.ctx.submit_market(h.iid, BUY, D(60))
    assert accepted(h, first)
    assert "insufficient USDT" in denial(h, second)
    h.flat_bar(100)
    assert h.kernel.portfolio.account.total("USDT") >= 0
    assert h.kernel.bus.handler_errors == 0


def test_reserved_funds_are_released_by_a_cancel_and_by_a_fill(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(cash="10000")
    h.flat_bar(100)
    resting = h.ctx.submit_limit(h.iid, BUY, D(60), D(95))
    assert "insufficient USDT" in denial(h, h.ctx.submit_market(h.iid, BUY, D(60)))
    h.ctx.cancel(resting)
    bought = h.ctx.submit_market(h.iid, BUY, D(60))
    assert accepted(h, bought)
    h.flat_bar(100)
    # 60 BTC held, none reserved any more: all of it may be sold, but not more
    assert "insufficient BTC" in denial(h, h.ctx.submit_market(h.iid, SELL, D("60.000001")))
    first_sell = h.ctx.submit_limit(h.iid, SELL, D(40), D(105))
    assert accepted(h, first_sell)
    assert denial(h, h.ctx.submit_market(h.iid, SELL, D(21))) == (
        "insufficient BTC: needs 21, free 20"
    )


def test_margin_account_skips_the_balance_check(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(cash="10", margin=True)
    h.flat_bar(100)
    assert accepted(h, h.ctx.submit_market(h.iid, SELL, D(1)))


def test_position_limit(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=RiskLimits(max_position_qty=D(1)))
    buy_and_fill(h, "1")
    more = h.ctx.submit_market(h.iid, BUY, D("0.5"))
    assert "position would be 1.5, beyond max_position_qty 1" in denial(h, more)
    assert accepted(h, h.ctx.submit_market(h.iid, SELL, D("0.5")))


def test_order_rate_throttle_over_one_second(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=RiskLimits(max_orders_per_second=2))
    h.flat_bar(100)
    ok = [h.ctx.submit_limit(h.iid, BUY, D(1), D(95)) for _ in range(2)]
    throttled = h.ctx.submit_limit(h.iid, BUY, D(1), D(95))
    assert all(accepted(h, cid) for cid in ok)
    assert denial(h, throttled) == "order rate above 2/s"
    h.clock.advance(NS_PER_S)  # one second later the window is free again
    assert accepted(h, h.ctx.submit_limit(h.iid, BUY, D(1), D(95)))


def test_halted_denies_every_order(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    buy_and_fill(h, "2")
    set_state(h, TradingState.HALTED, "maintenance")
    changes = h.stored(TradingStateChanged)
    assert changes == [
        TradingStateChanged(
            ts_event=h.clock.timestamp_ns(), state=TradingState.HALTED, reason="maintenance"
        )
    ]
    assert denial(h, h.ctx.submit_market(h.iid, BUY, D(1))) == "trading is HALTED"
    assert denial(h, h.ctx.submit_market(h.iid, SELL, D(1))) == "trading is HALTED"


def test_reducing_allows_only_orders_that_shrink_a_position(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    buy_and_fill(h, "2")
    set_state(h, TradingState.REDUCING)
    grow = h.ctx.submit_market(h.iid, BUY, D(1))
    flip = h.ctx.submit_market(h.iid, SELL, D(3))
    shrink = h.ctx.submit_market(h.iid, SELL, D("1.5"))
    assert "REDUCING" in denial(h, grow)
    assert "REDUCING" in denial(h, flip)
    assert accepted(h, shrink)
    set_state(h, TradingState.ACTIVE)
    assert [e.state for e in h.stored(TradingStateChanged)] == [
        TradingState.REDUCING,
        TradingState.ACTIVE,
    ]


def test_setting_the_same_state_twice_records_it_once(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    set_state(h, TradingState.REDUCING)
    set_state(h, TradingState.REDUCING)
    assert len(h.stored(TradingStateChanged)) == 1


def test_strategy_budget_is_a_share_of_equity(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(cash="10000", limits=RiskLimits(strategy_budget_pct=D("0.1")))
    h.flat_bar(100)
    over = h.ctx.submit_market(h.iid, BUY, D(11))
    assert "strategy exposure 1100.00 would exceed 10% of equity 10000.00" in denial(h, over)
    buy_and_fill(h, "10")
    more = h.ctx.submit_market(h.iid, BUY, D("0.5"))
    assert "strategy exposure" in denial(h, more)
    assert accepted(h, h.ctx.submit_market(h.iid, SELL, D(5)))  # shrinking is always in budget


def test_allowed_instruments(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=RiskLimits(allowed_instruments=frozenset({"ETH/USDT@paper"})))
    h.flat_bar(100)
    reason = denial(h, h.ctx.submit_market(h.iid, BUY, D(1)))
    assert reason == "instrument BTC/USDT@paper is not in the allowed list"


def test_unknown_instrument_and_unknown_price(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    no_price = h.ctx.submit_market(h.iid, BUY, D(1))
    assert denial(h, no_price) == "no price known for BTC/USDT@paper yet"
    unknown = h.ctx.submit_market("DOGE/USDT@paper", BUY, D(1))
    assert denial(h, unknown) == "unknown instrument DOGE/USDT@paper"


def test_the_first_failing_rule_is_the_reason_and_all_checks_see_the_same_order(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(cash="10", limits=RiskLimits(max_order_notional=D(50)))
    h.flat_bar(100)
    reason = denial(h, h.ctx.submit_market(h.iid, BUY, D(1)))
    assert reason.startswith("order notional")  # notional comes before the balance


def test_a_raw_submit_command_on_the_bus_is_checked_too(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(limits=RiskLimits(max_order_notional=D(50)))
    h.flat_bar(100)
    command = SubmitOrder(
        ts_init=h.clock.timestamp_ns(),
        client_order_id="manual-1",
        strategy_id="manual",
        instrument_id=h.iid,
        side=BUY,
        order_type=OrderType.MARKET,
        quantity=D(1),
    )
    h.kernel.bus.send("risk.execute", command)
    assert denial(h, "manual-1").startswith("order notional")


# ---- kill switch ------------------------------------------------------------------------------


def resting_orders(h: Harness) -> list[str]:
    h.flat_bar(100)
    return [
        h.ctx.submit_limit(h.iid, BUY, D(1), D(95)),
        h.ctx.submit_limit(h.iid, BUY, D(1), D(96)),
        h.ctx.submit_stop(h.iid, BUY, D(1), D(105)),
    ]


def kill(h: Harness, reason: str = "operator") -> None:
    h.kernel.bus.send(
        "risk.execute", ActivateKillSwitch(ts_init=h.clock.timestamp_ns(), reason=reason)
    )


def test_kill_switch_cancels_every_open_order_and_halts(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    cids = resting_orders(h)
    assert h.venue.open_order_ids() == set(cids)
    kill(h, "operator")
    assert h.kernel.risk.state is TradingState.HALTED
    [change] = h.stored(TradingStateChanged)
    assert change.state is TradingState.HALTED
    assert change.reason == "kill switch: operator"
    for cid in cids:
        assert type(h.stored_for(cid)[-1]) is OrderCanceled
        assert h.kernel.cache.order(cid).status is OrderStatus.CANCELED
    assert h.kernel.cache.open_orders_for() == []
    assert h.venue.open_order_ids() == set()
    h.bar(100, 110, 90, 100)  # would have filled all three
    assert h.stored(OrderFilled) == []
    assert denial(h, h.ctx.submit_market(h.iid, BUY, D(1))) == "trading is HALTED"


def test_kill_switch_cancellations_record_why(make_harness: Callable[..., Harness]) -> None:
    # the CancelAllOrders command carries "kill switch: ..."; the stored cancel must keep it
    h = make_harness()
    cids = resting_orders(h)
    kill(h, "operator")
    for cid in cids:
        assert "kill switch" in h.stored_for(cid)[-1].reason


def test_kill_switch_with_nothing_open_still_halts(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    assert h.kernel.risk.kill_switch("drill") == 0
    assert h.kernel.risk.state is TradingState.HALTED


# ---- circuit breakers -------------------------------------------------------------------------


def long_position(h: Harness, qty: str, price: float) -> None:
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, BUY, D(qty)))
    h.flat_bar(price)
    h.flat_bar(price)


def test_drawdown_breaker_trips_on_a_crash(make_harness: Callable[..., Harness]) -> None:
    limits = RiskLimits(max_drawdown_pct=D("0.05"), daily_loss_pct=D("0.5"))
    h = make_harness(cash="10000", limits=limits)
    long_position(h, "90", 100.0)  # 9000 in BTC, 991 cash after the fee
    h.then(lambda ctx, bar: ctx.submit_limit(h.iid, BUY, D(1), D(90)))
    h.flat_bar(99)  # equity 9901: -1 % from the peak of 9991
    resting = h.strategy.results[-1]
    h.flat_bar(97)  # 9721: -2.7 %
    assert h.kernel.risk.state is TradingState.ACTIVE
    assert h.stored(CircuitBreakerTripped) == []
    h.flat_bar(94)  # 9451: -5.4 %
    assert h.kernel.risk.state is TradingState.HALTED
    [tripped] = h.stored(CircuitBreakerTripped)
    assert tripped.breaker == "max_drawdown"
    assert tripped.ts_event == h.clock.timestamp_ns()
    [change] = h.stored(TradingStateChanged)
    assert change.state is TradingState.HALTED
    assert change.reason.startswith("kill switch: max_drawdown breaker")
    assert h.kernel.cache.order(resting).status is OrderStatus.CANCELED
    h.flat_bar(85)
    assert len(h.stored(CircuitBreakerTripped)) == 1  # tripped once, not on every bar
    assert h.kernel.cache.order(resting).filled_qty == 0


def test_drawdown_is_measured_from_the_running_peak(make_harness: Callable[..., Harness]) -> None:
    # the peak rises during the day; a 10 % fall from that new peak must trip a 5 % breaker at
    # once, not only after the next day starts
    limits = RiskLimits(max_drawdown_pct=D("0.05"), daily_loss_pct=D("0.5"))
    h = make_harness(cash="10000", limits=limits)
    long_position(h, "50", 100.0)
    h.flat_bar(150)
    h.flat_bar(200)  # equity ~15000: the new peak
    h.flat_bar(190)  # -3.3 %
    assert h.kernel.risk.state is TradingState.ACTIVE
    h.flat_bar(170)  # ~13500: -10 % from the peak
    assert h.kernel.risk.state is TradingState.HALTED
    assert [e.breaker for e in h.stored(CircuitBreakerTripped)] == ["max_drawdown"]


def test_daily_loss_breaker_trips_against_the_days_opening_equity(
    make_harness: Callable[..., Harness],
) -> None:
    limits = RiskLimits(max_drawdown_pct=D("0.5"), daily_loss_pct=D("0.05"))
    h = make_harness(cash="10000", limits=limits)
    long_position(h, "50", 100.0)
    h.flat_bar(96)  # -2 %
    h.next_open = (h.next_open // NS_PER_DAY + 1) * NS_PER_DAY  # the next UTC day
    h.flat_bar(96)  # the day opens at ~9800
    h.flat_bar(92)  # -2 % on the day, -4 % overall
    assert h.kernel.risk.state is TradingState.ACTIVE
    h.flat_bar(86)  # ~9300: -5.1 % on the day
    assert h.kernel.risk.state is TradingState.HALTED
    assert [e.breaker for e in h.stored(CircuitBreakerTripped)] == ["daily_loss"]


def test_no_breaker_on_a_flat_portfolio(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=RiskLimits(max_drawdown_pct=D("0.01")))
    for price in (100, 50, 10, 200, 1):
        h.flat_bar(price)
    assert h.kernel.risk.state is TradingState.ACTIVE
    assert h.stored(CircuitBreakerTripped) == []


def test_orders_on_an_instrument_without_a_venue_fail_loudly(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    other = spot("BTC/USDT", venue="other")
    h.kernel.add_instrument(other)
    h.kernel.data.process_bar(Bar(other.id, 100, 100, 100, 100, 1, 0, h.clock.timestamp_ns()))
    with pytest.raises(RoutingError, match="no venue named 'other'"):
        h.ctx.submit_market(other.id, BUY, D(1))
    assert h.kernel.cache.orders == {}
    assert h.stored(OrderSubmitted) == []
