"""The breakers' watermarks survive a restart: restarting cannot reset a drawdown."""

from __future__ import annotations

from decimal import Decimal

from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.core.time import NS_PER_DAY, TestClock
from grekko.domain.data import Bar
from grekko.domain.enums import TradingState
from grekko.domain.instruments import spot
from grekko.domain.risk import RiskLimits
from grekko.engines.kernel import Kernel

MIN = 60 * 1_000_000_000
T0 = 1_704_067_200 * 1_000_000_000
INSTRUMENT = spot("BTC/USDT")


def kernel_on(store: InMemoryEventStore, clock: TestClock) -> Kernel:
    kernel = Kernel(clock, store, limits=RiskLimits(max_drawdown_pct=Decimal("0.10")))
    kernel.add_instrument(INSTRUMENT)
    kernel.add_venue(
        PaperVenue(
            PaperVenueConfig(), kernel.cache.instrument, clock, kernel.portfolio.position_qty
        )
    )
    return kernel


def bar(kernel: Kernel, clock: TestClock, i: int, close: float) -> None:
    clock.set_time(T0 + (i + 1) * MIN)
    kernel.data.process_bar(
        Bar(INSTRUMENT.id, close, close, close, close, 1.0, T0 + i * MIN, T0 + (i + 1) * MIN)
    )


def test_watermarks_round_trip_and_a_restart_keeps_the_drawdown_breaker_armed() -> None:
    store = InMemoryEventStore()
    clock = TestClock(T0)
    first = kernel_on(store, clock)
    first.fund("USDT", Decimal(1000))
    first.fund("USDT", Decimal(9000))  # equity grows to 10,000: that is the peak
    bar(first, clock, 0, 100.0)
    peak, day_start, next_day = first.risk.watermarks()
    assert peak == 10_000.0
    assert next_day == (T0 // NS_PER_DAY + 1) * NS_PER_DAY
    first.fund("USDT", Decimal(-1500))  # a withdrawal the new process will see through the store

    second = kernel_on(store, clock)
    second.recover()
    bar(second, clock, 1, 100.0)  # without the watermarks, 8,500 would simply be a new peak
    assert second.risk.state is TradingState.ACTIVE
    third = kernel_on(store, clock)
    third.recover()
    third.risk.restore_watermarks(peak, day_start, next_day)
    bar(third, clock, 2, 100.0)
    assert third.risk.state is TradingState.HALTED
    assert third.risk.watermarks()[0] == 10_000.0


def test_tighter_breaker_limits_set_at_run_time_take_effect_at_once() -> None:
    from dataclasses import replace

    clock = TestClock(T0)
    kernel = kernel_on(InMemoryEventStore(), clock)
    kernel.fund("USDT", Decimal(10_000))
    bar(kernel, clock, 0, 100.0)
    kernel.fund("USDT", Decimal(-400))  # 4 % down: inside the 5 % daily and 10 % drawdown limits
    bar(kernel, clock, 1, 100.0)
    assert kernel.risk.state is TradingState.ACTIVE
    kernel.risk.set_limits(replace(kernel.risk.limits, max_drawdown_pct=Decimal("0.03")))
    bar(kernel, clock, 2, 100.0)
    assert kernel.risk.state is TradingState.HALTED
