"""Portfolio: the exact projection of fills into cash, positions and equity, through the kernel."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from grekko.core.time import TestClock
from grekko.domain.enums import OrderSide
from grekko.domain.events import AccountFunded, OrderFilled, PositionChanged
from grekko.engines.kernel import Kernel, describe

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
Harness = Any


def test_fills_move_cash_and_position_and_equity_marks_at_the_last_close(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(cash="10000")
    changes: list[PositionChanged] = []
    h.kernel.bus.subscribe("events.position.*", changes.append)
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, BUY, D(2)))
    h.flat_bar(100)
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, SELL, D("0.5")))
    h.bar(101, 102, 100, 101.5)  # buy 2 at 101: 202 + 0.202 fee
    portfolio = h.kernel.portfolio
    assert portfolio.account.total("USDT") == D("9797.798")
    assert portfolio.account.total("BTC") == D(2)
    assert portfolio.equity() == D("9797.798") + 2 * D("101.5")
    assert portfolio.unrealized_pnl() == D(1)
    h.bar(103, 103, 103, 103)  # sell 0.5 at 103: +51.5 - 0.0515
    assert portfolio.account.total("USDT") == D("9849.2465")
    assert portfolio.position_qty(h.iid) == D("1.5")
    assert portfolio.realized_pnl == D(1)  # (103 - 101) x 0.5
    assert portfolio.fees == D("0.2535")
    assert portfolio.equity() == D(10000) + portfolio.realized_pnl + D(3) - portfolio.fees
    assert portfolio.exposure(h.iid) == D("154.5")
    assert portfolio.strategy_exposure("scripted", h.iid) == D("1.5")
    assert [(c.quantity, c.avg_px, c.realized_pnl) for c in changes] == [
        (D(2), D(101), D(0)),
        (D("1.5"), D(101), D(1)),
    ]
    assert abs(portfolio.equity_f - float(portfolio.equity())) < 1e-6


def test_funding_is_an_event_and_moves_cash(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(cash="100")
    h.kernel.fund("USDT", D("-40"))
    assert h.kernel.portfolio.account.total("USDT") == D(60)
    assert [e.amount for e in h.stored(AccountFunded)] == [D(100), D(-40)]


def test_a_buy_that_gaps_above_the_cash_never_leaves_the_books_inconsistent(
    make_harness: Callable[..., Harness],
) -> None:
    # risk checks the cash at the last close, the market order fills at the next open: when the
    # open gaps up, a cash account cannot pay. Whatever the kernel does about it, the stored
    # fills, the position, the cash and a recovery from the store must all agree.
    h = make_harness(cash="1000")
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, BUY, D("9.9")))
    h.flat_bar(100)  # 9.9 x 100 x 1.001 = 990.99 fits
    h.flat_bar(110)  # 9.9 x 110 = 1089 does not
    stored_qty = sum((f.last_qty for f in h.stored(OrderFilled)), D(0))
    assert h.kernel.bus.handler_errors == 0
    assert h.kernel.portfolio.account.total("USDT") >= 0
    assert h.kernel.portfolio.position_qty(h.iid) == stored_qty
    assert h.kernel.portfolio.account.total("BTC") == stored_qty
    again = Kernel(TestClock(h.clock.timestamp_ns()), h.store)
    again.add_instrument(h.instrument)
    again.recover()
    assert describe(again) == describe(h.kernel)
