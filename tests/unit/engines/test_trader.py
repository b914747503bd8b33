"""Trader and strategy contexts: per-strategy ids and events, warm-up, removal, and sma_cross."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from grekko.agents.strategies.base import Strategy
from grekko.agents.strategies.sma_cross import SmaCross
from grekko.domain.enums import OrderSide
from grekko.domain.events import OrderFilled, OrderInitialized

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
Harness = Any


def second_strategy(h: Harness, name: str = "other") -> Any:
    cls = type("Other", (type(h.strategy),), {"name": name})
    strategy = cls(h.iid)
    h.kernel.trader.add(strategy)
    return strategy


def test_each_strategy_numbers_its_own_orders_and_hears_only_its_own_fills(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    other = second_strategy(h)
    h.flat_bar(100)
    mine = [h.ctx.submit_market(h.iid, BUY, D(1)) for _ in range(2)]
    theirs = other.ctx.submit_limit(h.iid, BUY, D(1), D(99))
    assert mine == ["O-scripted-1", "O-scripted-2"]
    assert theirs == "O-other-1"
    assert [o.client_order_id for o in other.ctx.open_orders()] == [theirs]
    h.flat_bar(100)
    assert [f.client_order_id for f in h.strategy.fills] == mine
    assert other.fills == []


def test_a_strategy_id_runs_once(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    with pytest.raises(ValueError, match="already running"):
        h.kernel.trader.add(type(h.strategy)(h.iid))


def test_warming_up_decisions_are_not_sent(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    h.flat_bar(100)
    h.ctx.warming_up = True
    assert h.ctx.submit_market(h.iid, BUY, D(1)) is None
    assert h.stored(OrderInitialized) == []
    h.ctx.warming_up = False
    assert h.ctx.submit_market(h.iid, BUY, D(1)) == "O-scripted-1"


def test_ids_continue_after_the_ones_used_before_a_restart(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.flat_bar(100)
    cls = type("Other", (type(h.strategy),), {"name": "resumed"})
    ctx = h.kernel.trader.add(cls(h.iid), ids_used=41)
    assert ctx.submit_market(h.iid, BUY, D(1)) == "O-resumed-42"


def test_a_removed_strategy_hears_nothing_more(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    other = second_strategy(h)
    h.flat_bar(100)
    cid = other.ctx.submit_market(h.iid, BUY, D(1))
    other.actions.extend([lambda ctx, bar: pytest.fail("removed strategies get no bars")] * 3)
    h.kernel.trader.remove("other")
    h.flat_bar(100)
    assert other.fills == []
    assert [f.client_order_id for f in h.stored(OrderFilled)] == [cid]  # the order still lived


def test_an_unbound_strategy_has_no_context() -> None:
    with pytest.raises(RuntimeError, match="not bound"):
        _ = Strategy("lonely").ctx


# ---- sma_cross ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast": "30", "slow": "10"}, "0 < fast < slow"),
        ({"fast": "0", "slow": "10"}, "0 < fast < slow"),
        ({"fast": "ten"}, "fast='ten' is not a int"),
        ({"quantity": "-1"}, "quantity must be positive"),
        ({"speed": "3"}, "unknown parameter"),
    ],
)
def test_sma_cross_refuses_bad_parameters(params: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SmaCross("s", instrument="BTC/USDT@paper", **params)


def test_sma_cross_needs_an_instrument(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    with pytest.raises(ValueError, match="instrument"):
        h.kernel.trader.add(SmaCross("s"))


def test_sma_cross_buys_the_golden_cross_and_sells_the_death_cross(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    strategy = SmaCross("sma", fast="2", slow="4", quantity="0.5", instrument=h.iid)
    h.kernel.trader.add(strategy)
    closes = [10, 10, 10, 10, 9, 12, 13, 14, 11, 9, 8, 8]
    for close in closes:
        h.flat_bar(close)
    fills = h.stored(OrderFilled)
    # bar 6 (12): fast 10.5 > slow 10.25 after fast <= slow -> buy, filled at the next open 13
    # bar 10 (9): fast 10 < slow 11.75 after fast >= slow -> sell, filled at the next open 8
    assert [(f.side, f.last_qty, f.last_px) for f in fills] == [
        (BUY, D("0.5"), D(13)),
        (SELL, D("0.5"), D(8)),
    ]
    assert h.kernel.portfolio.is_flat(h.iid)
