"""Properties over random fill sequences and random trading through the real kernel.

Average prices are Decimal divisions (a third of a cent has no finite decimal), so identities
that pass through an average price hold to within TOLERANCE rather than to the last digit;
everything else is compared exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.adapters.paper.venue import PaperVenueConfig
from grekko.core.money import ZERO, quantize
from grekko.core.time import TestClock
from grekko.domain import risk
from grekko.domain.accounts import Account
from grekko.domain.enums import OrderSide, TimeInForce
from grekko.domain.events import OrderFilled
from grekko.domain.positions import Position
from grekko.engines.kernel import Kernel, describe

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
TOLERANCE = D("1e-12")
FEE_RATE = D("0.001")
FEE_STEP = D("1e-8")

sides = st.sampled_from([BUY, SELL])
quantities = st.integers(min_value=1, max_value=5_000).map(lambda n: D(n) * D("0.001"))
prices = st.integers(min_value=100, max_value=10_000_000).map(lambda n: D(n) * D("0.01"))
fills = st.lists(st.tuples(sides, quantities, prices), min_size=1, max_size=40)


def fee_of(qty: Decimal, px: Decimal) -> Decimal:
    return quantize(qty * px * FEE_RATE, FEE_STEP)


@given(fills)
def test_position_quantity_is_the_signed_sum_of_fills(
    sequence: list[tuple[OrderSide, Decimal, Decimal]],
) -> None:
    position = Position("BTC/USDT@paper")
    for side, qty, px in sequence:
        position.apply_fill(side, qty, px, fee_of(qty, px))
    assert position.quantity == sum((q if s is BUY else -q for s, q, _ in sequence), ZERO)
    assert position.volume == sum((q for _, q, _ in sequence), ZERO)
    assert position.fees == sum((fee_of(q, p) for _, q, p in sequence), ZERO)
    if position.quantity == 0:
        assert position.avg_px == 0


@given(fills, prices)
def test_pnl_decomposes_the_change_in_cash_plus_marked_position(
    sequence: list[tuple[OrderSide, Decimal, Decimal]], mark: Decimal
) -> None:
    position = Position("BTC/USDT@paper")
    cash0 = D(1_000_000)
    cash = cash0
    for side, qty, px in sequence:
        fee = fee_of(qty, px)
        position.apply_fill(side, qty, px, fee)
        cash += (-qty if side is BUY else qty) * px - fee
    pnl = position.realized_pnl + position.unrealized_pnl(mark) - position.fees
    assert abs(pnl - (cash + position.quantity * mark - cash0)) <= TOLERANCE


@given(
    st.lists(st.tuples(sides, quantities, prices), max_size=60),
    st.integers(min_value=0, max_value=100_000),
)
def test_a_cash_account_checked_before_each_order_never_goes_negative(
    sequence: list[tuple[OrderSide, Decimal, Decimal]], cash: int
) -> None:
    account = Account("main")
    account.adjust("USDT", D(cash))
    for side, qty, px in sequence:
        fee = fee_of(qty, px)
        if side is BUY:
            reason = risk.check_balance(account.free("USDT"), qty * px * (1 + FEE_RATE), "USDT")
        else:
            reason = risk.check_balance(account.free("BTC"), qty, "BTC")
        if reason is None:
            account.apply_spot_fill("BTC", "USDT", side is BUY, qty, px, fee)
        assert account.total("USDT") >= 0
        assert account.total("BTC") >= 0


# ---- through the real kernel -------------------------------------------------------------------

ACTIONS = (
    "hold",
    "market_buy",
    "market_sell",
    "limit_buy",
    "limit_sell",
    "stop_sell",
    "stop_limit_buy",
    "ioc_buy",
    "fok_sell",
    "reduce_sell",
    "cancel",
)


@st.composite
def bar_paths(draw: st.DrawFn) -> list[tuple[float, float, float, float, float]]:
    """Random OHLCV bars in whole cents around a random walk that stays positive."""
    cents = draw(st.integers(min_value=5_000, max_value=20_000))
    bars = []
    for _ in range(draw(st.integers(min_value=5, max_value=25))):
        open_ = max(100, cents + draw(st.integers(-300, 300)))
        close = max(100, open_ + draw(st.integers(-500, 500)))
        high = max(open_, close) + draw(st.integers(0, 300))
        low = max(50, min(open_, close) - draw(st.integers(0, 300)))
        volume = draw(st.integers(1, 400)) / 10
        bars.append((open_ / 100, high / 100, low / 100, close / 100, volume))
        cents = close
    return bars


def act(ctx: Any, iid: str, kind: str, qty: Decimal, offset_bps: int) -> object:
    """One random decision through the strategy's context; prices stay inside the risk band."""
    last = ctx.last_price(iid)
    make_price = ctx.instrument(iid).make_price
    above = make_price(last * (1 + D(offset_bps) / 10_000))
    below = make_price(last * 2 - above)
    ioc, fok = TimeInForce.IOC, TimeInForce.FOK
    if kind == "cancel":
        working = ctx.open_orders(iid)
        return ctx.cancel(working[0].client_order_id) if working else None
    decisions: dict[str, Callable[[], object]] = {
        "hold": lambda: None,
        "market_buy": lambda: ctx.submit_market(iid, BUY, qty),
        "market_sell": lambda: ctx.submit_market(iid, SELL, qty),
        "limit_buy": lambda: ctx.submit_limit(iid, BUY, qty, below),
        "limit_sell": lambda: ctx.submit_limit(iid, SELL, qty, above),
        "stop_sell": lambda: ctx.submit_stop(iid, SELL, qty, below),
        "stop_limit_buy": lambda: ctx.submit_stop(iid, BUY, qty, above, limit_price=above),
        "ioc_buy": lambda: ctx.submit_limit(iid, BUY, qty, above, time_in_force=ioc),
        "fok_sell": lambda: ctx.submit_limit(iid, SELL, qty, last, time_in_force=fok),
        "reduce_sell": lambda: ctx.submit_market(iid, SELL, qty, reduce_only=True),
    }
    return decisions[kind]()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=bar_paths(),
    plan=st.lists(
        st.tuples(
            st.sampled_from(ACTIONS),
            st.integers(min_value=1, max_value=400).map(lambda n: D(n) * D("0.01")),
            st.integers(min_value=0, max_value=400),
        ),
        min_size=25,
        max_size=25,
    ),
    participation=st.sampled_from([None, D("0.5"), D(1)]),
    slippage=st.sampled_from([D(0), D(5)]),
    margin=st.booleans(),
)
def test_random_trading_keeps_equity_cash_positions_and_the_store_consistent(
    make_harness: Callable[..., Any],
    path: list[tuple[float, float, float, float, float]],
    plan: list[tuple[str, Decimal, int]],
    participation: Decimal | None,
    slippage: Decimal,
    margin: bool,
) -> None:
    cash = D(10_000)
    venue = PaperVenueConfig(volume_participation=participation, slippage_bps=slippage)
    h = make_harness(cash=str(cash), venue=venue, margin=margin)
    for kind, qty, offset in plan[: len(path)]:
        h.then(lambda ctx, bar, k=kind, q=qty, o=offset: act(ctx, h.iid, k, q, o))
    for bar in path:
        h.bar(*bar)

    portfolio = h.kernel.portfolio
    expected = cash + portfolio.realized_pnl + portfolio.unrealized_pnl() - portfolio.fees
    assert abs(portfolio.equity() - expected) <= TOLERANCE
    stored = h.stored(OrderFilled)
    signed = sum((f.last_qty if f.side is BUY else -f.last_qty for f in stored), ZERO)
    assert portfolio.position_qty(h.iid) == signed
    assert portfolio.fees == sum((f.fee for f in stored), ZERO)
    spent = sum(((-1 if f.side is BUY else 1) * f.last_qty * f.last_px for f in stored), ZERO)
    assert portfolio.account.total("USDT") == cash + spent - portfolio.fees
    if not margin:
        assert portfolio.account.total("USDT") >= 0
        assert portfolio.account.total("BTC") >= 0
    assert h.kernel.bus.handler_errors == 0
    for order in h.kernel.cache.orders.values():
        assert order.filled_qty <= order.quantity
    again = Kernel(TestClock(h.clock.timestamp_ns()), h.store, margin=margin)
    again.add_instrument(h.instrument)
    again.recover()
    assert describe(again) == describe(h.kernel)
