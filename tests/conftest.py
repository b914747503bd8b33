"""Shared fixtures: the real kernel (TestClock, in-memory event store, paper venue), driven bar by bar.

No engine is replaced: a test queues what its strategy should do on the next completed bar, and
that goes through the strategy's context, the bus, the risk engine, the execution engine and the
paper venue exactly as in a backtest.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.agents.strategies.base import Strategy
from grekko.core.time import NS_PER_S, TestClock
from grekko.domain.data import Bar
from grekko.domain.events import Event, OrderFilled
from grekko.domain.instruments import Instrument, spot
from grekko.domain.risk import RiskLimits
from grekko.engines.kernel import Kernel


@pytest.fixture(autouse=True, scope="session")
def _no_chain_unless_asked() -> None:
    """Sessions built in-process read GREKKO_* from the environment: without this each would
    start a devnet. The chain side is tested where it is asked for (tests/integration/chain)."""
    os.environ.setdefault("GREKKO_CHAIN__ENABLED", "false")


T0 = 1_704_067_200 * NS_PER_S  # 2024-01-01T00:00:00Z
MINUTE = 60 * NS_PER_S


class ScriptedStrategy(Strategy):
    """Runs the test's queued actions, one per completed bar, through its own trading context."""

    name = "scripted"

    def __init__(self, instrument_id: str) -> None:
        super().__init__()
        self.instrument_id = instrument_id
        self.actions: deque[Callable[[Any, Bar], object]] = deque()
        self.fills: list[OrderFilled] = []
        self.results: list[object] = []  # what each action returned (client order ids)

    def on_start(self) -> None:
        self.ctx.subscribe_bars(self.instrument_id, self.on_bar)

    def on_bar(self, bar: Bar) -> None:
        if self.actions:
            self.results.append(self.actions.popleft()(self.ctx, bar))

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)


class KernelHarness:
    """One kernel with one spot instrument, one paper venue, funded cash and a scripted strategy."""

    def __init__(
        self,
        *,
        store: InMemoryEventStore | None = None,
        limits: RiskLimits | None = None,
        venue: PaperVenueConfig | None = None,
        instrument: Instrument | None = None,
        cash: str | None = "100000",
        margin: bool = False,
        start_ns: int = T0,
    ) -> None:
        self.clock = TestClock(start_ns)
        self.store = store if store is not None else InMemoryEventStore()
        self.kernel = Kernel(self.clock, self.store, limits=limits, margin=margin)
        self.instrument = instrument or spot("BTC/USDT")
        self.iid = self.instrument.id
        self.kernel.add_instrument(self.instrument)
        self.venue = PaperVenue(
            venue or PaperVenueConfig(),
            self.kernel.cache.instrument,
            self.clock,
            self.kernel.portfolio.position_qty,
        )
        self.kernel.add_venue(self.venue)
        if cash is not None:
            self.kernel.fund("USDT", Decimal(cash))
        self.strategy = ScriptedStrategy(self.iid)
        self.ctx = self.kernel.trader.add(self.strategy)
        self.next_open = start_ns

    def bar(self, open_: float, high: float, low: float, close: float, volume: float = 1e3) -> Bar:
        """Publish the next one-minute bar, with the clock at its close as in a backtest."""
        ts_open, self.next_open = self.next_open, self.next_open + MINUTE
        self.clock.set_time(self.next_open)
        bar = Bar(self.iid, open_, high, low, close, volume, ts_open, self.next_open)
        self.kernel.data.process_bar(bar)
        return bar

    def flat_bar(self, price: float, volume: float = 1e3) -> Bar:
        return self.bar(price, price, price, price, volume)

    def then(self, action: Callable[[Any, Bar], object]) -> None:
        """What the strategy does on the next completed bar (ctx, bar) -> anything."""
        self.strategy.actions.append(action)

    def stored(self, kind: type | None = None) -> list[Event]:
        return [r.event for r in self.store.read_all() if kind is None or type(r.event) is kind]

    def stored_for(self, client_order_id: str) -> list[Event]:
        return [r.event for r in self.store.read(f"order-{client_order_id}")]


@pytest.fixture
def make_harness() -> Callable[..., KernelHarness]:
    """Factory, so a test picks its own limits, venue config, instrument or event store."""
    return KernelHarness


def pytest_sessionstart(session: pytest.Session) -> None:
    """A compiled module older than its source would silently test the old code."""
    del session
    from importlib import machinery

    src = Path(__file__).resolve().parents[1] / "src" / "grekko"
    for suffix in machinery.EXTENSION_SUFFIXES:
        for compiled in src.rglob(f"*{suffix}"):
            source = compiled.with_name(compiled.name[: -len(suffix)] + ".py")
            if source.exists() and source.stat().st_mtime > compiled.stat().st_mtime:
                raise pytest.UsageError(
                    f"{source.relative_to(src.parent)} changed after it was compiled: run `make install`"
                    " to recompile (or `make clean` for pure Python)"
                )
