"""Candles at rest: timeframes, resampling to coarser bars, gap reports, checked raw bars.

Buckets are aligned to UTC epoch multiples of the timeframe (a 1h bar opens on the hour, a 1d bar
at 00:00 UTC), the convention Binance, Coinbase and ccxt use, so a resampled 5m series reproduces
the venue's own 1h candles exactly and a store can mix bars fetched and bars resampled.

A resampled bucket is only emitted once its time is over: the last bucket of the input is dropped
when the last source bar ends before the bucket does (`include_partial=True` keeps it, with
`ts_event` at that source bar's end). A bar for 10:00-11:00 built from 10:00-10:35 would look
like a real hourly bar with a wrong close and a low volume, and a strategy cannot tell. Buckets
thinned by an exchange outage in the middle of the data are emitted: the venue's own candle for
that hour is built from the same trades.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import msgspec

from grekko.core.errors import DataError
from grekko.domain.data import Bar
from grekko.domain.raw import RawBar

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
STANDARD_TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d")

_TIMEFRAME_RE = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400}
_LABEL_UNITS = (("d", 86_400), ("h", 3600), ("m", 60))


class Timeframe(msgspec.Struct, frozen=True, order=True):
    """A bar length, a whole number of minutes; ordered from finest to coarsest."""

    seconds: int

    def __post_init__(self) -> None:
        if self.seconds < 60 or self.seconds % 60:
            raise DataError(f"a timeframe is a whole number of minutes, got {self.seconds}s")

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """'1m', '5m', '15m', '1h', '4h', '1d' (any N with m, h or d); '60m' is the same as '1h'."""
        match = _TIMEFRAME_RE.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise DataError(
                f"timeframe must look like 1m, 5m, 15m, 1h, 4h or 1d (N plus m, h or d), got {text!r}"
            )
        return cls(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])

    @classmethod
    def from_ns(cls, interval_ns: int) -> Timeframe:
        if interval_ns % NS_PER_S:
            raise DataError(f"bar interval {interval_ns} ns is not a whole number of seconds")
        return cls(interval_ns // NS_PER_S)

    @property
    def ns(self) -> int:
        return self.seconds * NS_PER_S

    @property
    def label(self) -> str:
        """The shortest exact spelling: 3600 s is '1h', 5400 s is '90m'."""
        for unit, size in _LABEL_UNITS:
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        raise AssertionError("unreachable: seconds is a multiple of 60")  # pragma: no cover

    def floor(self, ts_ns: int) -> int:
        """The open of the bucket holding ts_ns."""
        return ts_ns - ts_ns % self.ns

    def ceil(self, ts_ns: int) -> int:
        """The first bucket open at or after ts_ns."""
        return -((-ts_ns) // self.ns) * self.ns

    def divides(self, coarser: Timeframe) -> bool:
        """True if bars of this timeframe tile bars of `coarser` exactly."""
        return coarser.seconds % self.seconds == 0

    def __str__(self) -> str:
        return self.label


def as_timeframe(value: Timeframe | str) -> Timeframe:
    return value if isinstance(value, Timeframe) else Timeframe.parse(value)


# ---- resampling -----------------------------------------------------------------------------------
def resample(
    bars: Iterable[Bar], timeframe: Timeframe | str, *, include_partial: bool = False
) -> list[Bar]:
    """Aggregate time-ordered bars into epoch-aligned buckets of `timeframe`.

    open is the first open, high the max, low the min, close the last close, volume the sum. Each
    source bar must lie inside one bucket (a 5m bar cannot feed 7m buckets) and opens must
    strictly increase: either is a DataError. Empty buckets (outages) produce no bar.
    """
    target = as_timeframe(timeframe)
    size = target.ns
    out: list[Bar] = []
    current: list[Bar] = []
    bucket_open = last_open = -1
    for bar in bars:
        ts = bar.ts_open
        if ts <= last_open:
            raise DataError(f"bars must be in strictly increasing time order at ts_open {ts}")
        start = ts - ts % size
        if bar.ts_event <= ts or bar.ts_event > start + size:
            raise DataError(
                f"the bar opening at {ts} crosses a {target.label} bucket boundary: "
                f"its timeframe does not divide {target.label}"
            )
        if start != bucket_open and current:
            out.append(_merge(current, bucket_open, bucket_open + size))
            current = []
        bucket_open, last_open = start, ts
        current.append(bar)
    if current:
        end = bucket_open + size
        if current[-1].ts_event >= end:
            out.append(_merge(current, bucket_open, end))
        elif include_partial:
            out.append(_merge(current, bucket_open, current[-1].ts_event))
    return out


def _merge(bars: list[Bar], ts_open: int, ts_event: int) -> Bar:
    first = bars[0]
    if len(bars) == 1:
        high, low, volume = first.high, first.low, first.volume
    else:
        high = max(b.high for b in bars)
        low = min(b.low for b in bars)
        volume = math.fsum(b.volume for b in bars)
    return Bar(
        first.instrument_id, first.open, high, low, bars[-1].close, volume, ts_open, ts_event
    )


# ---- gap report -----------------------------------------------------------------------------------
class Gap(msgspec.Struct, frozen=True):
    """Bars missing from `start_ns` (the first missing open) up to `end_ns` (the next present
    open, or the end of the requested range), half-open: [start_ns, end_ns)."""

    start_ns: int
    end_ns: int
    missing: int


class GapReport(msgspec.Struct, frozen=True):
    """What a series of bar opens holds against the grid of its timeframe.

    `expected` is the number of grid slots between the first and last bar (or the requested
    range); `missing` the empty slots; `duplicates` repeated opens; `misaligned` opens that are
    not on the grid (a store rejects those; a file may have them).
    """

    timeframe: Timeframe
    bars: int
    first_ns: int | None
    last_ns: int | None
    expected: int
    missing: int
    duplicates: int
    misaligned: int
    gaps: tuple[Gap, ...]

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.duplicates == 0 and self.misaligned == 0


def gap_report(
    ts_opens: Iterable[int],
    timeframe: Timeframe | str,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> GapReport:
    """Find the holes in a series of bar opens (any order; duplicates are counted, not gaps).

    Without bounds the grid runs from the first to the last bar. With `start_ns` / `end_ns`
    (end exclusive) it covers that range, so missing bars at either edge count too.
    """
    tf = as_timeframe(timeframe)
    size = tf.ns
    ordered = sorted(ts_opens)
    unique = sorted(set(ordered))
    duplicates = len(ordered) - len(unique)
    misaligned = sum(1 for ts in unique if ts % size)
    lo = tf.ceil(start_ns) if start_ns is not None else (tf.floor(unique[0]) if unique else 0)
    hi = tf.ceil(end_ns) if end_ns is not None else (tf.floor(unique[-1]) + size if unique else 0)
    gaps: list[Gap] = []
    cursor = lo
    for ts in unique:
        if lo <= ts < hi:
            slot = tf.floor(ts)
            if slot > cursor:
                gaps.append(Gap(cursor, slot, (slot - cursor) // size))
            cursor = max(cursor, slot + size)
    if hi > cursor:
        gaps.append(Gap(cursor, hi, (hi - cursor) // size))
    return GapReport(
        timeframe=tf,
        bars=len(ordered),
        first_ns=unique[0] if unique else None,
        last_ns=unique[-1] if unique else None,
        expected=max(0, (hi - lo) // size),
        missing=sum(g.missing for g in gaps),
        duplicates=duplicates,
        misaligned=misaligned,
        gaps=tuple(gaps),
    )


# ---- raw bars from a venue -----------------------------------------------------------------------
class RawBarRejected(Exception):
    """One venue bar that cannot become a Bar; `reason` is a stable code for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CheckedBars(msgspec.Struct, frozen=True):
    """The bars that passed, and how many were rejected for each reason."""

    bars: list[Bar]
    rejected: dict[str, int]

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def check_raw_bars(raws: Iterable[RawBar], instrument_id: str, timeframe: Timeframe) -> CheckedBars:
    """Convert a page of venue bars; bad ones are counted by reason, never stored or raised."""
    bars: list[Bar] = []
    rejected: dict[str, int] = {}
    for raw in raws:
        try:
            bars.append(checked_bar(raw, instrument_id, timeframe))
        except RawBarRejected as exc:
            rejected[exc.reason] = rejected.get(exc.reason, 0) + 1
    return CheckedBars(bars, rejected)


def checked_bar(raw: RawBar, instrument_id: str, timeframe: Timeframe) -> Bar:
    """A Bar from a RawBar (ts in epoch ms), or RawBarRejected saying why not.

    Prices must be finite and positive, high >= max(open, close), low <= min(open, close),
    volume finite and >= 0, the open a whole millisecond on the timeframe's grid and the
    record's interval the timeframe's: a 5m bar stored as 1h would poison every resample.
    """
    if _number(raw.interval_s, "interval") != timeframe.seconds:
        raise RawBarRejected("interval", f"{raw.interval_s!r}s is not {timeframe.label}")
    ts = _number(raw.ts, "ts")
    if ts != math.floor(ts) or ts <= 0 or ts >= _MAX_MS:
        raise RawBarRejected("ts", f"not a plausible whole epoch millisecond: {raw.ts!r}")
    ts_ns = int(ts) * NS_PER_MS
    if ts_ns % timeframe.ns:
        raise RawBarRejected("ts.grid", f"{raw.ts!r} ms is not on the {timeframe.label} grid")
    o, h, lo, c = (_number(getattr(raw, name), name) for name in ("open", "high", "low", "close"))
    v = _number(raw.volume, "volume")
    if min(o, h, lo, c) <= 0:
        raise RawBarRejected("price", f"prices must be positive: {o}, {h}, {lo}, {c}")
    if h < max(o, c) or lo > min(o, c):
        raise RawBarRejected("ohlc", f"high/low do not enclose open/close: {o}, {h}, {lo}, {c}")
    if v < 0:
        raise RawBarRejected("volume", f"volume is negative: {v}")
    return Bar(instrument_id, o, h, lo, c, v, ts_ns, ts_ns + timeframe.ns)


_MAX_MS = 9_000_000_000_000  # year 2255: int64 nanoseconds end in 2262


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RawBarRejected(name, f"not a number: {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise RawBarRejected(name, f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise RawBarRejected(name, f"not finite: {value!r}")
    return number
