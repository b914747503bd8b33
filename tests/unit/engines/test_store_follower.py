"""A process that missed order notices catches up from the store: a second kernel on the same
store, told about nothing after its start, ends with the trading kernel's orders, positions and
balances, and applies nothing twice however often it catches up."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from grekko.core.time import TestClock
from grekko.domain.enums import OrderSide
from grekko.engines.distributed import StoreFollower
from grekko.engines.kernel import Kernel, describe, project_order


def follower_of(h: Any) -> tuple[Kernel, StoreFollower]:
    kernel = Kernel(TestClock(h.clock.timestamp_ns()), h.store)
    kernel.add_instrument(h.instrument)
    report = kernel.recover()
    return kernel, StoreFollower(kernel, report.last_position)


def test_missed_notices_are_made_up_from_the_store(make_harness: Callable[..., Any]) -> None:
    h = make_harness()
    h.flat_bar(100)
    first = h.ctx.submit_market(h.iid, OrderSide.BUY, Decimal(2))
    h.flat_bar(101)  # filled before the follower starts: recovered
    kernel, follower = follower_of(h)
    assert follower.position == max(r.global_position for r in h.store.read_all())

    partly_seen = h.ctx.submit_limit(h.iid, OrderSide.BUY, Decimal(1), Decimal(99))
    project_order(kernel, partly_seen)  # a notice arrived for its first events ...
    h.ctx.submit_market(h.iid, OrderSide.SELL, Decimal("0.5"))
    h.flat_bar(98)  # ... and none for its fill, nor for the sell at all
    assert describe(kernel) != describe(h.kernel)

    applied = follower.catch_up()

    assert applied > 0
    assert describe(kernel)["orders"] == describe(h.kernel)["orders"]
    assert kernel.portfolio.position_qty(h.iid) == h.kernel.portfolio.position_qty(h.iid)
    assert kernel.portfolio.position_qty(h.iid) == Decimal("2.5")
    assert describe(kernel)["balances"] == describe(h.kernel)["balances"]
    assert kernel.cache.order(first).status is h.kernel.cache.order(first).status
    assert follower.catch_up() == 0  # nothing new: nothing applied twice
    assert follower.caught_up == applied
    assert describe(kernel)["positions"] == describe(h.kernel)["positions"]


def test_notices_that_did_arrive_leave_nothing_to_catch_up(
    make_harness: Callable[..., Any],
) -> None:
    h = make_harness()
    h.flat_bar(100)
    kernel, follower = follower_of(h)
    coid = h.ctx.submit_market(h.iid, OrderSide.BUY, Decimal(1))
    h.flat_bar(101)
    project_order(kernel, coid)  # every notice arrived

    assert follower.catch_up() == 0
    assert follower.caught_up == 0
    assert describe(kernel)["positions"] == describe(h.kernel)["positions"]
