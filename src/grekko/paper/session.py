"""PaperSession: the replay loop of `grekko up`, with warm-up after a restart and a cursor per bar.

The loop only moves the clock and feeds bars; every decision, check, fill and position change
happens in the kernel, exactly as in a backtest. What it adds is durability: before a bar is
processed its index is saved, and a restarted session replays every bar up to that one as
warm-up (strategies rebuild their indicators, nothing trades) and goes live with the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from grekko.core.money import ZERO
from grekko.core.time import TestClock, ns_to_iso
from grekko.domain.data import Bar
from grekko.domain.events import AccountFunded
from grekko.engines.kernel import ACCOUNT_STREAM, Kernel, describe
from grekko.paper.checkpoint import CursorStore
from grekko.paper.pacing import Pacer
from grekko.paper.replay import Replay
from grekko.paper.status import Progress, SessionStatus, capture
from grekko.ports.event_store import EventStore

log = logging.getLogger("grekko.paper")
YIELD_EVERY = 16


@dataclass(frozen=True, slots=True)
class RestartReport:
    """What starting the session found in the store and did about it."""

    events: int  # events replayed from the store
    resume_index: int  # the first bar processed live (0 on a fresh store)
    restored_orders: tuple[str, ...]  # accepted orders handed back to the venue
    lost_in_flight: tuple[str, ...]  # stored as submitted, never accepted: canceled
    funded: bool  # the starting cash was funded by this start (the store was empty)


class PaperSession:
    def __init__(
        self,
        kernel: Kernel,
        clock: TestClock,
        store: EventStore,
        replay: Replay,
        cursors: CursorStore,
        *,
        restart: RestartReport,
        speed: float,
        end: int,
    ) -> None:
        self.kernel = kernel
        self.store = store
        self.replay = replay
        self.restart = restart
        self.speed = speed
        self.end = max(end, restart.resume_index)
        self._clock = clock
        self._cursors = cursors
        self._next = restart.resume_index
        self._phase = "starting"
        self._stopped_by = ""
        self._funded = funded_total(store, kernel.portfolio.cash_currency)
        self.agents: Any = None  # the AgentDesk, when agents run in this session
        self.chain: Any = None  # the ChainRuntime (devnet, wallet, DEX venue) when enabled

    # ---- running ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, observer: Callable[[], None] | None = None) -> str:
        """Warm up, then process bars live until the end or `stop`; returns why it stopped."""
        bars = self.replay.bars()
        self._warm_up(bars)
        self._phase = "live"
        log.info("live from bar %d of %d", self._next, self.end)
        pacer = Pacer(self.speed, stop)
        for index in range(self._next, self.end):
            bar = next(bars)
            if not pacer.wait_turn(observer):
                return self._finish("stopped", "signal")
            self.step(index, bar)
            if observer is not None:
                observer()
        return self._finish(
            "finished", "end_of_data" if self.end == self.replay.total else "max_bars"
        )

    async def run_async(self, stop: asyncio.Event, *, max_lag_s: float = 1.0) -> str:
        """The same loop on an asyncio event loop, for `grekko up` serving the API.

        Bars and API requests then run on one thread, one at a time, so the kernel needs no
        locks; the loop yields between bars (at least every YIELD_EVERY bars when behind).
        """
        loop = asyncio.get_running_loop()
        bars = self.replay.bars()
        self._warm_up(bars)
        self._phase = "live"
        log.info("live from bar %d of %d", self._next, self.end)
        start = loop.time()
        for turn, index in enumerate(range(self._next, self.end)):
            bar = next(bars)
            deadline = start + turn / self.speed
            delay = deadline - loop.time()
            if delay < -max_lag_s:  # a stall: move the schedule instead of bursting
                start = loop.time() - turn / self.speed
            elif delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            elif turn % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if stop.is_set():
                return self._finish("stopped", "signal")
            self.step(index, bar)
        return self._finish(
            "finished", "end_of_data" if self.end == self.replay.total else "max_bars"
        )

    def step(self, index: int, bar: Bar) -> None:
        """One bar live: cursor saved first, then the clock moves and the kernel sees the bar."""
        self._cursors.save(index, bar.ts_event, self.kernel.risk.watermarks())
        self._clock.set_time(bar.ts_event)
        self.kernel.data.process_bar(bar)
        self._next = index + 1

    def _warm_up(self, bars: Iterator[Bar]) -> None:
        if not self._next:
            return
        self._phase = "warming up"
        with self.kernel.history():
            process_bar = self.kernel.data.process_bar
            for _ in range(self._next):
                process_bar(next(bars))
        log.info("warm-up replayed %d bars as history", self._next)

    def _finish(self, phase: str, reason: str) -> str:
        self._phase = phase
        self._stopped_by = reason
        log.info("session %s (%s) at bar %d of %d", phase, reason, self._next, self.end)
        return reason

    def close(self) -> None:
        for strategy_id in list(self.kernel.trader.strategies):
            self.kernel.trader.remove(strategy_id)
        if self.chain is not None:
            self.chain.close()
        self.store.close()

    # ---- reading ---------------------------------------------------------------------------------
    def progress(self) -> Progress:
        return Progress(
            phase=self._phase,
            processed=self._next,
            total=self.end,
            warmup=self.restart.resume_index,
            speed=self.speed,
            now_ns=self._clock.timestamp_ns(),
        )

    def status(self) -> SessionStatus:
        return capture(self.kernel, self.progress(), self._funded)

    def summary(self) -> dict[str, Any]:
        """describe(kernel) plus equity and how the session went, JSON-ready."""
        status = self.status()
        restart = self.restart
        return {
            **describe(self.kernel),
            "cash_currency": status.cash_currency,
            "equity": str(status.equity),
            "funded": str(status.funded),
            "pnl": str(status.pnl),
            "fees": str(status.fees),
            "session": {
                "stopped_by": self._stopped_by,
                "bars_total": self.end,
                "bars_processed": self._next,
                "warmup_bars": restart.resume_index,
                "live_bars": self._next - restart.resume_index,
                "replay_time": ns_to_iso(self._clock.timestamp_ns()),
                "instruments": self.replay.instrument_ids,
                "strategies": list(status.strategies),
                "events_recovered": restart.events,
                "restored_orders": list(restart.restored_orders),
                "lost_in_flight": list(restart.lost_in_flight),
                "orders": status.orders,
                "fills": status.fills,
            },
        }


def funded_total(store: EventStore, currency: str) -> Decimal:
    """Cash paid into the account from outside trading: the base PnL is measured against."""
    total = ZERO
    for record in store.read(ACCOUNT_STREAM):
        event = record.event
        if type(event) is AccountFunded and event.currency == currency:
            total += event.amount
    return total
