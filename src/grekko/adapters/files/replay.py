"""Replay sources: a bar or trade file played into the ingest pipeline at a chosen speed.

speed 1.0 plays in real time, 60 plays an hour a minute, None as fast as the pipeline takes it.
`loop` starts over at the end, shifting times forward by the file's span (plus one step) and
suffixing trade ids with the pass number, so a looped file still looks like new, ordered data.
`rebase_ns` moves the first record to that time (e.g. now), which makes a replay look live:
its lag metric then measures the pipeline, not the age of the file.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from grekko.adapters.files.bars import iter_bar_rows, load_bars
from grekko.adapters.files.trades import load_trades
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar, RawMarketData, RawTrade

YIELD_EVERY = 512


class _Paced:
    name: str

    sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)
    monotonic: Callable[[], float] = staticmethod(time.perf_counter)

    def __init__(self, speed: float | None, loop: bool, rebase: Callable[[], int] | None) -> None:
        if speed is not None and not speed > 0:
            raise ConfigError(
                f"replay speed must be > 0 (or None for as fast as possible), got {speed}"
            )
        self.speed = speed
        self.loop = loop
        self._rebase = rebase
        self.passes = 0

    def _records(self, shift_ns: int, suffix: str) -> Iterator[tuple[int, RawMarketData]]:
        raise NotImplementedError

    def _span_ns(self) -> int:
        raise NotImplementedError

    def _first_ns(self) -> int:
        raise NotImplementedError

    async def __aiter__(self) -> AsyncIterator[RawMarketData]:
        shift = self._rebase() - self._first_ns() if self._rebase is not None else 0
        first_ts: int | None = None
        start = self.monotonic()
        count = 0
        while True:
            self.passes += 1
            suffix = f"#{self.passes}" if self.passes > 1 else ""
            for ts, record in self._records(shift, suffix):
                if first_ts is None:
                    first_ts = ts
                count += 1
                if self.speed is not None:
                    due = (ts - first_ts) / 1e9 / self.speed - (self.monotonic() - start)
                    if due > 0.001:
                        await self.sleep(due)
                elif count % YIELD_EVERY == 0:
                    await self.sleep(0)
                yield record
            if not self.loop:
                return
            shift += self._span_ns()


class BarReplay(_Paced):
    def __init__(
        self,
        path: Path,
        *,
        venue: str = "replay",
        symbol: str | None = None,
        speed: float | None = None,
        loop: bool = False,
        rebase_ns: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(speed, loop, rebase_ns)
        self.bars = load_bars(Path(path), symbol=symbol)
        self.venue = venue
        self.name = f"replay:{Path(path).name}"

    def _first_ns(self) -> int:
        # a bar is known at its close: rebasing puts the first close at the rebase time
        return int(self.bars.ts_open_ns[0]) + self.bars.interval_ns

    def _span_ns(self) -> int:
        b = self.bars
        return int(b.ts_open_ns[-1] - b.ts_open_ns[0]) + b.interval_ns

    def _records(self, shift_ns: int, suffix: str) -> Iterator[tuple[int, RawMarketData]]:
        b = self.bars
        shift = shift_ns
        interval_s = b.interval_ns / 1e9
        for ts, _, o, h, low, c, v in iter_bar_rows(b):
            ts_open = ts + shift
            # a bar becomes known when it closes: pace by its close time
            yield (
                ts_open + b.interval_ns,
                RawBar(self.venue, b.symbol, ts_open, o, h, low, c, v, interval_s),
            )


class TradeReplay(_Paced):
    def __init__(
        self,
        path: Path,
        *,
        symbol: str,
        venue: str = "replay",
        speed: float | None = None,
        loop: bool = False,
        rebase_ns: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(speed, loop, rebase_ns)
        self.trades = load_trades(Path(path))
        if not len(self.trades):
            raise ConfigError(f"{Path(path).name}: no trades to replay")
        self.symbol = symbol
        self.venue = venue
        self.name = f"replay:{Path(path).name}"
        self._times = [_ns_or_none(ts) for ts in self.trades.ts]

    def _first_ns(self) -> int:
        return next((t for t in self._times if t is not None), 0)

    def _span_ns(self) -> int:
        known = [t for t in self._times if t is not None]
        return (max(known) - min(known) + 1_000_000) if known else 1_000_000_000

    def _records(self, shift_ns: int, suffix: str) -> Iterator[tuple[int, RawMarketData]]:
        shift = shift_ns
        last = self._first_ns()
        for ts_ns, (ts, price, amount, side, trade_id) in zip(
            self._times, self.trades.rows(), strict=True
        ):
            stamp = ts
            if ts_ns is not None:
                last = ts_ns
                stamp = ts_ns + shift
            tid = f"{trade_id}{suffix}" if suffix and trade_id not in (None, "") else trade_id
            yield last + shift, RawTrade(self.venue, self.symbol, price, amount, side, stamp, tid)


def _ns_or_none(value: object) -> int | None:
    """A trade time in ns when it is a plain epoch number (s/ms/µs/ns); else None (left to the pipeline)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if math.isnan(value) or value <= 0 or value > 9e18:
        return None
    for limit, scale in ((1e11, 10**9), (1e14, 10**6), (1e17, 10**3)):
        if value < limit:
            return round(value * scale)
    return int(value)
