"""Built-ins are plugins like any other: found by entry point, started through the lifecycle."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

import pytest

from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.core.errors import RoutingError
from grekko.core.time import TestClock
from grekko.domain.commands import CancelAllOrders
from grekko.domain.data import Bar
from grekko.domain.events import OrderFilled
from grekko.domain.instruments import spot
from grekko.engines.kernel import Kernel
from grekko.plugins import PluginContext, PluginManager, PluginState
from grekko.settings import load_settings

MIN = 60 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000


def expected_sides(closes: list[int], fast: int, slow: int) -> list[str]:
    """An independent SMA cross loop: signal on a close, fill on the next bar."""
    sides, held, prev = [], False, None
    for i in range(slow - 1, len(closes) - 1):  # the last bar's signal never fills
        f = sum(closes[i - fast + 1 : i + 1]) / fast
        s = sum(closes[i - slow + 1 : i + 1]) / slow
        if prev is not None:
            if prev[0] <= prev[1] and f > s and not held:
                sides.append("buy")
                held = True
            elif prev[0] >= prev[1] and f < s and held:
                sides.append("sell")
                held = False
        prev = (f, s)
    return sides


def test_builtins_are_discovered_by_entry_point() -> None:
    names = {(info.group, info.name) for info in PluginManager().discover()}
    assert ("grekko.strategies", "sma_cross") in names
    assert ("grekko.venues", "paper") in names


def test_paper_venue_and_sma_cross_trade_when_started_as_plugins(tmp_path) -> None:
    clock = TestClock(T0)
    kernel = Kernel(clock, InMemoryEventStore())
    instrument = spot("BTC/USDT")
    kernel.add_instrument(instrument)
    kernel.fund("USDT", Decimal(100_000))
    settings = load_settings(tmp_path, env={})
    ctx = PluginContext(
        bus=kernel.bus,
        clock=clock,
        settings=settings,
        extras=MappingProxyType({"kernel": kernel, "trader": kernel.trader}),
    )
    manager = PluginManager()
    venue_plugin = manager.start("grekko.venues", "paper", ctx)
    strategy = manager.start(
        "grekko.strategies", "sma_cross", ctx, "sma", fast="2", slow="3", instrument=instrument.id
    )
    assert manager.state(venue_plugin) is PluginState.ACTIVE
    closes = [100, 99, 98, 99, 101, 103, 102, 99, 96, 95, 97, 100]
    for i, close in enumerate(closes):
        clock.set_time(T0 + (i + 1) * MIN)
        kernel.data.process_bar(
            Bar(
                instrument.id,
                close,
                close + 1,
                close - 1,
                close,
                10.0,
                T0 + i * MIN,
                T0 + (i + 1) * MIN,
            )
        )
    fills = [r.event for r in kernel.store.read_all() if type(r.event) is OrderFilled]
    assert [f.side.value for f in fills] == expected_sides(closes, 2, 3)
    assert len(fills) >= 2
    manager.stop(strategy)
    assert "sma" not in kernel.trader.strategies
    kernel.execution.cancel_all(CancelAllOrders(ts_init=clock.timestamp_ns(), reason="shutdown"))
    manager.stop(venue_plugin)
    with pytest.raises(RoutingError, match="no venue named 'paper'"):
        kernel.execution.venue("paper")
