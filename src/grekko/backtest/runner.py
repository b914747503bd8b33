"""The backtest loop: historical bars through the kernel under a TestClock.

There is no second trading loop here: this module only feeds data and moves the clock; every
decision, check, fill and position update happens in the same engines paper and live use.
"""

from __future__ import annotations

import gc
import heapq
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from grekko.adapters.files.bars import ROW_CHUNK, BarArrays, iter_bar_chunks
from grekko.core.time import TestClock
from grekko.domain.data import Bar
from grekko.engines.kernel import Kernel

Row = tuple[int, int, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class Feed:
    instrument_id: str
    bars: BarArrays


@dataclass(frozen=True, slots=True)
class RunStats:
    bars: int
    elapsed_s: float  # the engine's run loop only: no loading, no reporting


def infer_price_increment(values: np.ndarray, max_decimals: int = 8) -> Decimal:
    """The coarsest tick that represents every price exactly (files carry no metadata).

    Every value is checked (a sample can miss the one finer price), with a tolerance relative to
    the scaled value that only forgives float representation error, never a real digit.
    """
    for decimals in range(max_decimals + 1):
        scaled = values * 10.0**decimals
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return Decimal(1).scaleb(-decimals)
    return Decimal(1).scaleb(-max_decimals)


@contextmanager
def quiet_gc() -> Iterator[None]:
    """No cyclic collection while the loop runs; what exists is frozen after every chunk.

    The hot path makes no reference cycles (refcounting frees its garbage at once), while the
    orders and events it keeps are live: a collector pass would only rescan them, and with the
    default thresholds it does so thousands of times per run. `settle()` after each chunk moves
    everything alive into the permanent generation; one full collection runs at the end, so
    any cyclic garbage (a handler's exception traceback) is reclaimed then.
    """
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        gc.collect()


def settle() -> None:
    gc.freeze()


def run(
    kernel: Kernel, feeds: list[Feed], progress: Callable[[int], None] | None = None
) -> RunStats:
    with quiet_gc():
        return _run(kernel, feeds, progress)


def _run(kernel: Kernel, feeds: list[Feed], progress: Callable[[int], None] | None) -> RunStats:
    clock = kernel.clock
    if not isinstance(clock, TestClock):
        raise TypeError("a backtest runs under a TestClock")
    process_bar = kernel.data.process_bar
    n = 0
    started = time.perf_counter()
    if len(feeds) == 1:
        iid = feeds[0].instrument_id
        total = len(feeds[0].bars)
        for rows in iter_bar_chunks(feeds[0].bars):
            for ts_open, ts_close, o, h, low, c, v in rows:
                clock.now_ns = ts_close  # the file was validated strictly increasing
                process_bar(Bar(iid, o, h, low, c, v, ts_open, ts_close))
            n = min(n + ROW_CHUNK, total)
            settle()
            if progress is not None:
                progress(n)
    else:
        for iid, (ts_open, ts_close, o, h, low, c, v) in _merged(feeds):
            clock.set_time(ts_close)
            process_bar(Bar(iid, o, h, low, c, v, ts_open, ts_close))
            n += 1
            if not n % ROW_CHUNK:
                settle()
                if progress is not None:
                    progress(n)
    elapsed = time.perf_counter() - started
    if progress is not None:
        progress(n)
    return RunStats(bars=n, elapsed_s=elapsed)


def _merged(feeds: list[Feed]) -> Iterator[tuple[str, Row]]:
    """Time-ordered merge of several instruments; ties keep the order the files were given."""

    def tagged(index: int, feed: Feed) -> Iterator[tuple[int, int, str, Row]]:
        for rows in iter_bar_chunks(feed.bars):
            for row in rows:
                yield row[1], index, feed.instrument_id, row

    for _, _, iid, row in heapq.merge(*(tagged(i, f) for i, f in enumerate(feeds))):
        yield iid, row
