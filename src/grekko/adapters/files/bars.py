"""Historical bar files (CSV, CSV.gz, Parquet) loaded into validated numpy arrays.

The backtester and `grekko up` replay both start here. Loading is vectorised (pandas/pyarrow)
and every check runs over whole columns, so a million bars load in well under a second. Bad input
stops with a `DataError` naming the file, the 1-based data row (header not counted) and what is
wrong, because a backtest on silently repaired data is worse than no backtest. Gaps in time are
real (exchange outages): allowed, only counted.

Symbols come from the caller or the file name (see `symbol_from_filename`). Derivative markers in
a file name (`usdm_perp`, `-PERP`) are dropped: the symbol is the pair the prices are quoted in,
so `ETHUSDT_usdm_perp_1h` is ETH/USDT and FTX-style `BTC-PERP_1m_...` (a USD-quoted perpetual,
volume in USD) is BTC/USD. Pass `symbol="BTC/USD:USD"` to load such a file as a swap explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from grekko.core.errors import ConfigError, DataError

QUOTE_CURRENCIES = ("USDT", "USDC", "BUSD", "USD", "BTC", "ETH", "EUR", "BNB")
TIME_COLUMNS = (
    "open_time_ms",
    "open_time",
    "timestamp",
    "datetime_utc",
    "datetime",
    "date",
    "time",
)
PRICE_COLUMNS = ("open", "high", "low", "close")
SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")

_QUOTES_LONGEST_FIRST = tuple(sorted(QUOTE_CURRENCIES, key=len, reverse=True))
_NOT_A_BASE = frozenset(
    {"BARS", "OHLCV", "CANDLES", "KLINES", "SPOT", "PERP", "USDM", "COINM", "MARK", "DATA"}
)
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9]+(:[A-Za-z0-9]+)?$")
_INTERVAL_TOKEN_RE = re.compile(r"^(\d+)([smhdw])$")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_INT64_MAX = np.iinfo(np.int64).max

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
BarRow = tuple[int, int, float, float, float, float, float]
_Describe = Callable[[int], str]
_Scalar = TypeVar("_Scalar", bound=np.generic)


@dataclass(frozen=True, eq=False, slots=True)
class BarArrays:
    """One instrument's bars as parallel read-only columns; times are UTC epoch nanoseconds.

    `ts_close_ns` is `ts_open_ns + interval_ns` (the next bar's open on regular data), the moment
    the bar became known. `gaps` counts places where the next bar opens later than one interval
    after this one; `missing_bars` is how many whole bars those gaps hold.
    """

    symbol: str
    ts_open_ns: Int64Array
    ts_close_ns: Int64Array
    open: Float64Array
    high: Float64Array
    low: Float64Array
    close: Float64Array
    volume: Float64Array
    interval_ns: int
    source: Path
    gaps: int = 0
    missing_bars: int = 0

    def __len__(self) -> int:
        return len(self.ts_open_ns)


def load_bars(path: Path, *, symbol: str | None = None) -> BarArrays:
    """Read and validate a bar file; the suffix picks the format (.csv, .csv.gz, .parquet, .pq)."""
    path = Path(path)
    if symbol is None:
        symbol = symbol_from_filename(path)
    elif not _SYMBOL_RE.match(symbol):
        raise ConfigError(f"symbol must be ccxt unified form like BTC/USDT, got {symbol!r}")
    frame = _normalise_columns(_read_frame(path), path)
    if len(frame) == 0:
        raise DataError(f"{path.name}: no rows (empty file or header only)")
    ts_open = _time_ns(frame, path)
    prices = {name: _float_column(frame, name, path) for name in (*PRICE_COLUMNS, "volume")}
    _check_prices(prices, path)
    interval = _interval_ns(ts_open, path)
    gaps, missing = _check_spacing(ts_open, interval, path)
    del frame
    _release_arrow_memory()
    return BarArrays(
        symbol=symbol,
        ts_open_ns=_frozen(ts_open),
        ts_close_ns=_frozen(ts_open + interval),
        open=_frozen(prices["open"]),
        high=_frozen(prices["high"]),
        low=_frozen(prices["low"]),
        close=_frozen(prices["close"]),
        volume=_frozen(prices["volume"]),
        interval_ns=interval,
        source=path,
        gaps=gaps,
        missing_bars=missing,
    )


ROW_CHUNK = 1 << 16


def _release_arrow_memory() -> None:
    """Hand back what the Arrow pool kept after a parquet read (~150 MB per million rows)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return
    pa.default_memory_pool().release_unused()


def iter_bar_chunks(arrays: BarArrays, chunk: int = ROW_CHUNK) -> Iterator[Iterator[BarRow]]:
    """The rows in chunks, each converted with `tolist()` only when reached.

    Converting a million-row file at once costs about 220 MB of Python floats; a chunk at a time
    keeps the hot loop as fast (a plain zip per chunk) with a fraction of the memory.
    """
    for start in range(0, len(arrays), chunk):
        end = start + chunk
        yield zip(
            arrays.ts_open_ns[start:end].tolist(),
            arrays.ts_close_ns[start:end].tolist(),
            arrays.open[start:end].tolist(),
            arrays.high[start:end].tolist(),
            arrays.low[start:end].tolist(),
            arrays.close[start:end].tolist(),
            arrays.volume[start:end].tolist(),
            strict=True,
        )


def iter_bar_rows(arrays: BarArrays, start: int = 0, stop: int | None = None) -> Iterator[BarRow]:
    """(ts_open, ts_close, open, high, low, close, volume) as plain Python numbers, for the kernel.

    Each column (or its [start:stop] slice) is converted once with `tolist()`: the kernel's hot
    loop consumes this, and numpy scalars per row would be several times slower.
    """
    part = slice(start, stop)
    return zip(
        arrays.ts_open_ns[part].tolist(),
        arrays.ts_close_ns[part].tolist(),
        arrays.open[part].tolist(),
        arrays.high[part].tolist(),
        arrays.low[part].tolist(),
        arrays.close[part].tolist(),
        arrays.volume[part].tolist(),
        strict=True,
    )


def bundled_files() -> list[Path]:
    """The real-data slice shipped in the package (grekko/data): `grekko up` replays it offline."""
    data_dir = Path(__file__).resolve().parents[2] / "data"
    return sorted(data_dir.glob("*.csv.gz"))


def symbol_from_filename(path: Path) -> str:
    """Infer a ccxt unified symbol from a file name, or ask for one.

    The name is split on `_`, `-`, `.` and spaces. The first token that is BASE+QUOTE run together
    (BTCUSDT, with the longest known quote at the end: USDT before USD), or BASE followed by a QUOTE
    token (BTC_USDT, BTC-USD), or BASE followed by PERP (BTC-PERP, USD-quoted: BTC/USD) gives it.
    """
    tokens = [t.upper() for t in re.split(r"[_\-\s.]+", _stem(path.name)) if t]
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if following == "PERP" and _is_base(token):
            return f"{token}/USD"
        for quote in _QUOTES_LONGEST_FIRST:
            if token.endswith(quote) and _is_base(token[: -len(quote)]):
                return f"{token[: -len(quote)]}/{quote}"
        if following in QUOTE_CURRENCIES and _is_base(token):
            return f"{token}/{following}"
    raise DataError(
        f"{path.name}: cannot tell the symbol from the file name; "
        "pass it explicitly (symbol='BTC/USDT', on the command line --symbol BTC/USDT)"
    )


def _is_base(token: str) -> bool:
    return (
        2 <= len(token) <= 12
        and token.isalnum()
        and any(c.isalpha() for c in token)
        and token not in _NOT_A_BASE
    )


def _stem(name: str) -> str:
    lower = name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _read_frame(path: Path) -> pd.DataFrame:
    lower = path.name.lower()
    if not lower.endswith(SUPPORTED_SUFFIXES):
        raise DataError(
            f"{path.name}: unknown file type; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if lower.endswith((".parquet", ".pq")):
            return _index_to_column(pd.read_parquet(path))
        return pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name}: empty file") from exc
    except (OSError, ValueError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name}: cannot read ({exc})") from exc


def _index_to_column(frame: pd.DataFrame) -> pd.DataFrame:
    """A parquet written from a time-indexed frame keeps its times in the index: make a column."""
    index, name = frame.index, frame.index.name or "timestamp"
    is_time = isinstance(index, pd.DatetimeIndex) or str(index.name).lower() in TIME_COLUMNS
    return frame.reset_index(names=name) if is_time and name not in frame.columns else frame


def _normalise_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    names = [str(c).strip().lower() for c in frame.columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"{path.name}: columns that differ only by case or spaces: {duplicates}")
    frame.columns = pd.Index(names)
    missing = [c for c in (*PRICE_COLUMNS, "volume") if c not in names]
    if not any(c in names for c in TIME_COLUMNS):
        missing.insert(0, f"a time column (one of {', '.join(TIME_COLUMNS)})")
    if missing:
        found = ", ".join(names[:15]) + (", ..." if len(names) > 15 else "")
        hint = " (the first line looks like data: is the header row missing?)"
        headerless = sum(_is_number(n) for n in names) * 2 >= len(names)
        raise DataError(
            f"{path.name}: missing columns: {', '.join(missing)}; found: {found}"
            + (hint if headerless else "")
        )
    return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fail(path: Path, row_index: int, what: str) -> DataError:
    return DataError(f"{path.name}: row {row_index + 1}: {what}")


def _time_ns(frame: pd.DataFrame, path: Path) -> Int64Array:
    name = next(c for c in TIME_COLUMNS if c in frame.columns)
    column = frame[name]
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return _datetimes_ns(column, column, name, path)
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return _epoch_ns(column, name, path)
    parsed = pd.to_datetime(column, utc=True, format="ISO8601", errors="coerce")
    return _datetimes_ns(parsed, column, name, path)


def _datetimes_ns(parsed: pd.Series, raw: pd.Series, name: str, path: Path) -> Int64Array:
    index = pd.DatetimeIndex(parsed)
    bad = np.flatnonzero(index.isna())
    if bad.size:
        row = int(bad[0])
        raise _fail(path, row, f"{name} is not a date-time (ISO 8601 expected): {raw.iloc[row]!r}")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _epoch_ns(column: pd.Series, name: str, path: Path) -> Int64Array:
    """Epoch numbers to ns: ms for `open_time_ms`, else the unit each value's magnitude implies.

    Below 1e11 is seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds: each
    unit then covers 1973 to 5138, so a plausible date cannot be read in the wrong unit. Per value,
    because real exports (CryptoDataDownload) mix seconds and milliseconds in one column.
    """
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values) | (values <= 0))
    if bad.size:
        row = int(bad[0])
        raise _fail(path, row, f"{name} is not a positive epoch time: {column.iloc[row]!r}")
    magnitude = np.abs(values)
    if name == "open_time_ms":
        per_unit = np.full(values.shape, 10**6, dtype=np.int64)
    else:
        per_unit = np.select(
            [magnitude < 1e11, magnitude < 1e14, magnitude < 1e17], [10**9, 10**6, 10**3], 1
        ).astype(np.int64)
    too_big = np.flatnonzero(magnitude >= _INT64_MAX / per_unit)
    if too_big.size:
        row = int(too_big[0])
        raise _fail(path, row, f"{name} is past the year 2262: {column.iloc[row]!r}")
    if pd.api.types.is_integer_dtype(column.dtype) or np.array_equal(values, np.floor(values)):
        return column.to_numpy(dtype=np.int64) * per_unit
    return np.round(values * per_unit).astype(np.int64)


def _float_column(frame: pd.DataFrame, name: str, path: Path) -> Float64Array:
    raw = frame[name]
    parsed = raw if pd.api.types.is_float_dtype(raw.dtype) else pd.to_numeric(raw, errors="coerce")
    numbers = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        row = int(bad[0])
        raise _fail(path, row, f"{name} is not a finite number: {raw.iloc[row]!r}")
    return numbers


def _check_prices(columns: dict[str, Float64Array], path: Path) -> None:
    o, h, low, c, v = (columns[n] for n in (*PRICE_COLUMNS, "volume"))
    non_positive = (o <= 0) | (h <= 0) | (low <= 0) | (c <= 0)
    _raise_first(non_positive, path, lambda r: f"prices must be positive: {_ohlc(columns, r)}")
    body_high = np.maximum(o, c)
    _raise_first(h < body_high, path, lambda r: f"high below max(open, close): {_ohlc(columns, r)}")
    body_low = np.minimum(o, c)
    _raise_first(low > body_low, path, lambda r: f"low above min(open, close): {_ohlc(columns, r)}")
    _raise_first(v < 0, path, lambda r: f"volume is negative: {v[r]!r}")


def _ohlc(columns: dict[str, Float64Array], row: int) -> str:
    return ", ".join(f"{n} {columns[n][row]!r}" for n in PRICE_COLUMNS)


def _raise_first(mask: npt.NDArray[np.bool_], path: Path, describe: _Describe) -> None:
    hits = np.flatnonzero(mask)
    if hits.size:
        row = int(hits[0])
        raise _fail(path, row, describe(row))


def _interval_ns(ts_open: Int64Array, path: Path) -> int:
    """The bar length: the median spacing, robust to gaps; a one-row file needs it in its name.

    If the shortest step is smaller and divides every step, the file is a grid of that step with
    more gaps than bars (exporters that skip empty bars do this), so the shortest step wins,
    unless the file name declares the median (BTCUSDT_5m): then the short step is an error.
    """
    declared = _interval_from_filename(path)
    steps = np.diff(ts_open)
    positive = steps[steps > 0]
    if positive.size:
        median = int(np.percentile(positive, 50, method="lower"))
        shortest = int(positive.min())
        sparse_grid = shortest < median and not np.any(positive % shortest)
        if sparse_grid and declared in (None, shortest):
            return shortest
        return median
    if declared is not None:
        return declared
    raise DataError(
        f"{path.name}: cannot infer the bar interval from {len(ts_open)} distinct time(s); "
        "add more rows or put the interval in the file name (e.g. _1m_)"
    )


def _interval_from_filename(path: Path) -> int | None:
    """`5m`, `1h`, `1d`... as a name token; lower-case m is minutes (Binance's 1M is a month)."""
    for token in re.split(r"[_\-\s.]+", _stem(path.name)):
        match = _INTERVAL_TOKEN_RE.match(token)
        if match:
            return int(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)] * 10**9
    return None


def _check_spacing(ts_open: Int64Array, interval: int, path: Path) -> tuple[int, int]:
    """Times must strictly increase; a step shorter than the interval means mixed bar sizes."""
    steps = np.diff(ts_open)
    _raise_first(
        np.concatenate(([False], steps == 0)),
        path,
        lambda r: f"duplicate timestamp {_iso(ts_open[r])} (same as the row before)",
    )
    _raise_first(
        np.concatenate(([False], steps < 0)),
        path,
        lambda r: (
            f"timestamp {_iso(ts_open[r])} is before the previous row's {_iso(ts_open[r - 1])}"
        ),
    )
    _raise_first(
        np.concatenate(([False], steps < interval)),
        path,
        lambda r: (
            f"bar opens {(ts_open[r] - ts_open[r - 1]) / 1e9:g}s after the previous one, "
            f"less than the bar interval {interval / 1e9:g}s (mixed bar sizes?)"
        ),
    )
    long_steps = steps[steps > interval]
    return int(long_steps.size), int(np.sum(long_steps // interval - 1))


def _iso(ts_ns: np.int64) -> str:
    return pd.Timestamp(int(ts_ns), tz="UTC").isoformat()


def _frozen(values: npt.NDArray[_Scalar]) -> npt.NDArray[_Scalar]:
    array = np.ascontiguousarray(values)
    array.setflags(write=False)
    return array
