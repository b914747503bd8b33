"""CandleStore port: bars at rest per instrument and timeframe, for charts, research and warm-up.

Writes are upserts keyed by (instrument, timeframe, open time), so importing or fetching the same
range twice is harmless and a corrected bar replaces the old one. Reads of a timeframe that is not
stored are resampled from the finest stored timeframe that tiles it, with the rules of
`grekko.domain.candles.resample` (whole buckets only), so a store holding 1m bars answers 5m, 1h
and 1d without keeping them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import msgspec

from grekko.domain.candles import GapReport, Timeframe
from grekko.domain.data import Bar

ProgressCallback = Callable[[int], None]
"""Called with the number of rows written so far, after each batch."""


class ArrayColumn(Protocol):
    """A numpy-like column: converted to Python numbers in one `tolist()` call."""

    def __len__(self) -> int: ...

    def tolist(self) -> Any: ...


Column = Sequence[float] | ArrayColumn
TimeColumn = Sequence[int] | ArrayColumn


class SeriesInfo(msgspec.Struct, frozen=True):
    """One stored series: an instrument at one timeframe."""

    instrument_id: str
    timeframe: Timeframe
    bars: int
    first_ns: int
    last_ns: int


class CandleStore(Protocol):
    def write(
        self,
        instrument_id: str,
        timeframe: Timeframe | str,
        bars: Iterable[Bar],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        """Upsert bars in one transaction (all or nothing); returns the rows written.

        Bars must be on the timeframe's UTC grid with sane prices; a bad one is a DataError and
        nothing of the call is stored. Within one call the last bar for an open time wins.
        """
        ...

    def write_columns(
        self,
        instrument_id: str,
        timeframe: Timeframe | str,
        ts_open: TimeColumn,
        columns: tuple[Column, ...],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        """`write` for parallel columns (open, high, low, close, volume), as file loaders give."""
        ...

    def range(
        self,
        instrument_id: str,
        timeframe: Timeframe | str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """Bars with start_ns <= ts_open < end_ns, oldest first, at most `limit`.

        A timeframe not stored is resampled on read from the finest stored one that divides it
        and has data in the range; only whole buckets are returned.
        """
        ...

    def first_ts(self, instrument_id: str, timeframe: Timeframe | str) -> int | None:
        """The open of the oldest stored bar (of the source timeframe if resampled)."""
        ...

    def last_ts(self, instrument_id: str, timeframe: Timeframe | str) -> int | None:
        """The open of the newest stored bar (of the source timeframe if resampled)."""
        ...

    def instruments(self) -> list[str]: ...

    def timeframes(self, instrument_id: str) -> list[Timeframe]:
        """The timeframes stored for an instrument, finest first."""
        ...

    def series(self) -> list[SeriesInfo]: ...

    def gap_report(
        self,
        instrument_id: str,
        timeframe: Timeframe | str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> GapReport:
        """Missing bars of a stored (or resampled) series; bounds make edge gaps count too."""
        ...

    def close(self) -> None: ...
