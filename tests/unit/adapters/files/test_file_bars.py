"""Bar-file loading: each format, each validation error, symbols, gaps, the bundled slice."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.adapters.files.bars import (
    BarArrays,
    bundled_files,
    iter_bar_rows,
    load_bars,
    symbol_from_filename,
)
from grekko.core.errors import ConfigError, DataError

MINUTE_NS = 60 * 10**9
START_MS = 1_617_321_600_000  # 2021-04-02 00:00 UTC
START_NS = START_MS * 10**6


def ohlcv_frame(n: int = 5, *, step_ms: int = 60_000, start_ms: int = START_MS) -> pd.DataFrame:
    """A valid frame in the shared data's layout: open_time_ms, datetime_utc, o, h, l, c, v."""
    opens = 100.0 + np.arange(n, dtype=np.float64)
    closes = opens + 0.5
    times = start_ms + step_ms * np.arange(n, dtype=np.int64)
    return pd.DataFrame(
        {
            "open_time_ms": times,
            "datetime_utc": pd.to_datetime(times, unit="ms", utc=True).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "open": opens,
            "high": closes + 1.0,
            "low": opens - 1.0,
            "close": closes,
            "volume": np.full(n, 2.5),
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def assert_data_error(path: Path, *fragments: str, symbol: str | None = "BTC/USDT") -> None:
    with pytest.raises(DataError) as info:
        load_bars(path, symbol=symbol)
    message = str(info.value)
    assert path.name in message
    for fragment in fragments:
        assert fragment in message, message


# --- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".pq", ".CSV"])
def test_each_format_loads_the_same_bars(tmp_path: Path, suffix: str) -> None:
    frame = ohlcv_frame(4)
    path = tmp_path / f"BTCUSDT_spot_1m{suffix}"
    if "parquet" in suffix or suffix == ".pq":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, compression="gzip" if suffix.endswith(".gz") else None)

    bars = load_bars(path)

    assert bars.symbol == "BTC/USDT"
    assert len(bars) == 4
    assert bars.source == path
    assert bars.interval_ns == MINUTE_NS
    assert bars.ts_open_ns.tolist() == [START_NS + i * MINUTE_NS for i in range(4)]
    assert bars.ts_close_ns.tolist() == [START_NS + (i + 1) * MINUTE_NS for i in range(4)]
    assert bars.open.tolist() == [100.0, 101.0, 102.0, 103.0]
    assert bars.high.tolist() == [101.5, 102.5, 103.5, 104.5]
    assert bars.low.tolist() == [99.0, 100.0, 101.0, 102.0]
    assert bars.close.tolist() == [100.5, 101.5, 102.5, 103.5]
    assert bars.volume.tolist() == [2.5] * 4
    assert (bars.gaps, bars.missing_bars) == (0, 0)
    assert bars.ts_open_ns.dtype == np.int64
    assert bars.close.dtype == np.float64


def test_arrays_are_read_only(tmp_path: Path) -> None:
    bars = load_bars(write_csv(ohlcv_frame(3), tmp_path / "BTCUSDT_1m.csv"))
    with pytest.raises(ValueError, match="read-only"):
        bars.close[0] = 1.0


def test_parquet_with_tz_aware_datetime_index_like_the_peer_benchmark(tmp_path: Path) -> None:
    index = pd.date_range("2020-01-01", periods=3, freq="1min", tz="UTC", name="timestamp")
    frame = ohlcv_frame(3).drop(columns=["open_time_ms", "datetime_utc"]).set_index(index)
    path = tmp_path / "bars_1m_3.parquet"
    frame.to_parquet(path)

    bars = load_bars(path, symbol="BTC/USDT")

    expected_first = pd.Timestamp("2020-01-01", tz="UTC").value
    assert bars.ts_open_ns.tolist() == [expected_first + i * MINUTE_NS for i in range(3)]
    assert bars.close.tolist() == [100.5, 101.5, 102.5]


def test_parquet_with_unnamed_naive_datetime_index_is_read_as_utc(tmp_path: Path) -> None:
    index = pd.date_range("2021-04-02", periods=3, freq="5min")
    frame = ohlcv_frame(3).drop(columns=["open_time_ms", "datetime_utc"]).set_index(index)
    path = tmp_path / "ETHUSDT_5m.parquet"
    frame.to_parquet(path)

    bars = load_bars(path)

    assert bars.symbol == "ETH/USDT"
    assert bars.ts_open_ns[0] == START_NS
    assert bars.interval_ns == 5 * MINUTE_NS


def test_csv_written_by_the_peer_benchmark_with_offset_timestamps(tmp_path: Path) -> None:
    index = pd.date_range("2020-01-01", periods=3, freq="1min", tz="UTC", name="timestamp")
    frame = ohlcv_frame(3).drop(columns=["open_time_ms", "datetime_utc"]).set_index(index)
    path = tmp_path / "bars_1m_3.csv"
    frame.to_csv(path, float_format="%.6f")
    assert "2020-01-01 00:00:00+00:00" in path.read_text()

    bars = load_bars(path, symbol="BTC/USDT")

    assert bars.ts_open_ns[0] == pd.Timestamp("2020-01-01", tz="UTC").value
    assert bars.open.tolist() == [100.0, 101.0, 102.0]


@pytest.mark.parametrize(
    "column", ["timestamp", "datetime", "datetime_utc", "date", "time", "Time"]
)
def test_iso_datetime_columns_by_any_supported_name(tmp_path: Path, column: str) -> None:
    frame = ohlcv_frame(3).drop(columns=["open_time_ms"]).rename(columns={"datetime_utc": column})
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert bars.ts_open_ns[0] == START_NS
    assert bars.interval_ns == MINUTE_NS


def test_non_utc_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    frame = ohlcv_frame(2).drop(columns=["open_time_ms"])
    frame["datetime_utc"] = ["2021-04-02T02:00:00+02:00", "2021-04-02T02:01:00+02:00"]
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert bars.ts_open_ns[0] == START_NS


def test_column_names_are_case_insensitive(tmp_path: Path) -> None:
    frame = ohlcv_frame(3).rename(columns=str.title)  # Open_Time_Ms, Open, High, ...
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert bars.high.tolist() == [101.5, 102.5, 103.5]


def test_open_time_ms_wins_over_a_datetime_column(tmp_path: Path) -> None:
    frame = ohlcv_frame(3)
    frame["datetime_utc"] = "not a date"
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert bars.ts_open_ns[0] == START_NS


@pytest.mark.parametrize("per_second", [1, 1_000, 1_000_000, 1_000_000_000])
def test_numeric_timestamp_unit_is_detected_by_magnitude(tmp_path: Path, per_second: int) -> None:
    frame = ohlcv_frame(3).drop(columns=["datetime_utc"])
    seconds = frame.pop("open_time_ms") // 1000
    frame.insert(0, "timestamp", seconds * per_second)
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert bars.ts_open_ns.tolist() == [START_NS + i * MINUTE_NS for i in range(3)]


def test_mixed_second_and_millisecond_epochs_in_one_column(tmp_path: Path) -> None:
    frame = ohlcv_frame(3).drop(columns=["datetime_utc"])
    ms = frame.pop("open_time_ms")
    frame.insert(0, "timestamp", [ms[0] // 1000, ms[1], ms[2] // 1000])
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert bars.ts_open_ns.tolist() == [START_NS + i * MINUTE_NS for i in range(3)]


def test_fractional_epoch_seconds(tmp_path: Path) -> None:
    frame = ohlcv_frame(2).drop(columns=["datetime_utc", "open_time_ms"])
    frame.insert(0, "timestamp", [1_617_321_600.5, 1_617_321_660.5])
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert bars.ts_open_ns.tolist() == [START_NS + 500_000_000, START_NS + MINUTE_NS + 500_000_000]


def test_iter_bar_rows_yields_plain_python_numbers(tmp_path: Path) -> None:
    bars = load_bars(write_csv(ohlcv_frame(3), tmp_path / "BTCUSDT_1m.csv"))
    rows = list(iter_bar_rows(bars))
    assert rows[0] == (START_NS, START_NS + MINUTE_NS, 100.0, 101.5, 99.0, 100.5, 2.5)
    assert len(rows) == 3
    assert all(type(v) is int for v in rows[1][:2])
    assert all(type(v) is float for v in rows[1][2:])


# --- symbols ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("BTCUSDT_spot_5m.csv.gz", "BTC/USDT"),
        ("ETHUSDT_usdm_perp_1h.csv.gz", "ETH/USDT"),
        ("BTC-PERP_1m_2021-12-31_2022-01-21.csv.gz", "BTC/USD"),
        ("binance_ADABTC-1m-2021-11-27.csv", "ADA/BTC"),
        ("BTC_USDT-1m.parquet", "BTC/USDT"),
        ("BTC-USD_1h.csv", "BTC/USD"),
        ("ETHBUSD_1m.csv", "ETH/BUSD"),
        ("btcusdc_1m.csv", "BTC/USDC"),
        ("BNBUSDT_spot_1h.csv.gz", "BNB/USDT"),
        ("ETHBNB_5m.csv", "ETH/BNB"),
        ("BTCEUR_1d.csv", "BTC/EUR"),
        ("ETHBTC_1h.parquet", "ETH/BTC"),
        ("USDCUSDT_1m.csv", "USDC/USDT"),
        ("1000PEPEUSDT_1m.csv", "1000PEPE/USDT"),
    ],
)
def test_symbol_from_filename(name: str, symbol: str) -> None:
    assert symbol_from_filename(Path(name)) == symbol


@pytest.mark.parametrize("name", ["bars_1m_100000.parquet", "data.csv", "USDT_1m.csv"])
def test_a_name_without_a_pair_asks_for_the_symbol(name: str) -> None:
    with pytest.raises(DataError, match="--symbol"):
        symbol_from_filename(Path(name))


def test_symbol_argument_overrides_the_file_name(tmp_path: Path) -> None:
    path = write_csv(ohlcv_frame(2), tmp_path / "BTCUSDT_1m.csv")
    assert load_bars(path, symbol="BTC/USDT:USDT").symbol == "BTC/USDT:USDT"


def test_load_without_a_symbol_anywhere_is_an_error(tmp_path: Path) -> None:
    path = write_csv(ohlcv_frame(2), tmp_path / "bars_1m_2.csv")
    assert_data_error(path, "--symbol", symbol=None)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BTC/", "BTC-USDT", ""])
def test_malformed_symbol_argument(tmp_path: Path, symbol: str) -> None:
    path = write_csv(ohlcv_frame(2), tmp_path / "BTCUSDT_1m.csv")
    with pytest.raises(ConfigError, match="ccxt unified"):
        load_bars(path, symbol=symbol)


# --- gaps and intervals ----------------------------------------------------------------------


def test_gaps_are_allowed_and_counted(tmp_path: Path) -> None:
    frame = ohlcv_frame(20).drop(index=[5, 6, 7, 12]).reset_index(drop=True)
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT_1m.csv"))
    assert len(bars) == 16
    assert bars.interval_ns == MINUTE_NS
    assert (bars.gaps, bars.missing_bars) == (2, 4)
    assert bars.ts_close_ns[4] == bars.ts_open_ns[4] + MINUTE_NS  # not stretched over the gap


def test_single_row_takes_its_interval_from_the_file_name(tmp_path: Path) -> None:
    bars = load_bars(write_csv(ohlcv_frame(1), tmp_path / "BTCUSDT_spot_5m.csv"))
    assert bars.interval_ns == 5 * MINUTE_NS
    assert bars.ts_close_ns[0] == START_NS + 5 * MINUTE_NS


def test_single_row_without_an_interval_in_the_name(tmp_path: Path) -> None:
    assert_data_error(write_csv(ohlcv_frame(1), tmp_path / "BTCUSDT.csv"), "interval")


def test_sparse_grid_where_gaps_outnumber_bars(tmp_path: Path) -> None:
    frame = ohlcv_frame(6)
    frame["open_time_ms"] = START_MS + 60_000 * np.array([0, 1, 3, 5, 7, 9])
    bars = load_bars(write_csv(frame, tmp_path / "BTCUSDT.csv"))
    assert bars.interval_ns == MINUTE_NS
    assert (bars.gaps, bars.missing_bars) == (4, 4)


def test_mixed_bar_sizes_are_rejected(tmp_path: Path) -> None:
    frame = ohlcv_frame(6, step_ms=300_000)
    frame.loc[3:, "open_time_ms"] -= 240_000  # row 4 opens 1 minute after row 3 in a 5-minute file
    assert_data_error(write_csv(frame, tmp_path / "BTCUSDT_5m.csv"), "row 4", "mixed bar sizes")


def test_steps_off_any_grid_are_rejected(tmp_path: Path) -> None:
    frame = ohlcv_frame(6, step_ms=300_000)
    frame.loc[3:, "open_time_ms"] -= 120_000  # a 3-minute step among 5-minute ones
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "row 4", "mixed bar sizes")


# --- validation errors -----------------------------------------------------------------------


@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume"])
def test_missing_value_column(tmp_path: Path, column: str) -> None:
    path = write_csv(ohlcv_frame(3).drop(columns=[column]), tmp_path / "x.csv")
    assert_data_error(path, "missing columns", column)


def test_missing_time_column(tmp_path: Path) -> None:
    path = write_csv(
        ohlcv_frame(3).drop(columns=["open_time_ms", "datetime_utc"]), tmp_path / "x.csv"
    )
    assert_data_error(path, "missing columns", "a time column")


def test_headerless_file_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    ohlcv_frame(3).drop(columns=["datetime_utc"]).to_csv(path, index=False, header=False)
    assert_data_error(path, "missing columns", "header row missing")


def test_columns_that_differ_only_by_case(tmp_path: Path) -> None:
    frame = ohlcv_frame(3)
    frame["Close"] = frame["close"]
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "differ only by case")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"")
    assert_data_error(path, "empty file")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_header_only_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    empty = ohlcv_frame(0)
    if suffix == ".csv":
        empty.to_csv(path, index=False)
    else:
        empty.to_parquet(path)
    assert_data_error(path, "no rows")


@pytest.mark.parametrize("name", ["x.json", "x.txt", "x.gz", "x"])
def test_unknown_suffix(tmp_path: Path, name: str) -> None:
    path = write_csv(ohlcv_frame(2), tmp_path / name)
    assert_data_error(path, "unknown file type", ".csv.gz")


def test_missing_file(tmp_path: Path) -> None:
    assert_data_error(tmp_path / "BTCUSDT_1m.csv", "no such file")


@pytest.mark.parametrize(("name", "content"), [("x.csv.gz", b"not gzip"), ("x.parquet", b"PAR1x")])
def test_corrupt_file(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert_data_error(path, "cannot read")


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("open", np.nan, "open is not a finite number"),
        ("high", np.inf, "high is not a finite number"),
        ("close", "abc", "close is not a finite number: 'abc'"),
        ("volume", np.nan, "volume is not a finite number"),
        ("low", 0.0, "prices must be positive"),
        ("open", -1.0, "prices must be positive"),
        ("high", 100.2, "high below max(open, close)"),
        ("low", 102.2, "low above min(open, close)"),
        ("volume", -0.5, "volume is negative"),
    ],
)
def test_bad_value_names_file_row_and_problem(
    tmp_path: Path, column: str, value: object, fragment: str
) -> None:
    frame = ohlcv_frame(5).astype({column: object})
    frame.loc[2, column] = value
    if column == "low" and value == 0.0:
        frame.loc[2, "open"] = frame.loc[2, "close"] = 0.5
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "row 3", fragment)


def test_bad_value_in_parquet_is_reported_by_row(tmp_path: Path) -> None:
    frame = ohlcv_frame(5)
    frame.loc[4, "high"] = 1.0
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    assert_data_error(path, "row 5", "high below")


def test_duplicate_timestamp(tmp_path: Path) -> None:
    frame = ohlcv_frame(5)
    frame.loc[3, "open_time_ms"] = frame.loc[2, "open_time_ms"]
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "row 4", "duplicate timestamp")


def test_timestamps_going_backwards(tmp_path: Path) -> None:
    frame = ohlcv_frame(5)
    frame.loc[3, "open_time_ms"] = START_MS - 60_000
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "row 4", "before the previous row")


def test_unparseable_datetime(tmp_path: Path) -> None:
    frame = ohlcv_frame(3).drop(columns=["open_time_ms"])
    frame.loc[1, "datetime_utc"] = "yesterday"
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "row 2", "'yesterday'")


@pytest.mark.parametrize("value", [0, -5])
def test_non_positive_epoch(tmp_path: Path, value: int) -> None:
    frame = ohlcv_frame(3)
    frame.loc[0, "open_time_ms"] = value
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "row 1", "not a positive epoch time")


def test_epoch_beyond_int64_nanoseconds(tmp_path: Path) -> None:
    frame = ohlcv_frame(2)
    frame.loc[1, "open_time_ms"] = 9_300_000_000_000  # ms, year 2264
    assert_data_error(write_csv(frame, tmp_path / "x.csv"), "row 2", "2262")


# --- properties ------------------------------------------------------------------------------

finite_price = st.floats(min_value=1e-8, max_value=1e7, allow_nan=False, allow_infinity=False)


@st.composite
def bar_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, int, int]:
    """Valid bars with random prices, a random interval and a few random gaps."""
    n = draw(st.integers(min_value=2, max_value=40))
    interval_ms = draw(st.sampled_from([1_000, 60_000, 300_000, 3_600_000, 86_400_000]))
    multiples = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 7]), min_size=n - 1, max_size=n - 1))
    multiples[0] = 1  # keep the median at one interval
    start = draw(st.integers(min_value=1_000_000_000_000, max_value=4_000_000_000_000))
    times = start + interval_ms * np.concatenate(([0], np.cumsum(multiples)))
    opens = np.array(draw(st.lists(finite_price, min_size=n, max_size=n)))
    closes = np.array(draw(st.lists(finite_price, min_size=n, max_size=n)))
    up = np.array(draw(st.lists(st.floats(0, 1e3), min_size=n, max_size=n)))
    down = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    volume = np.array(draw(st.lists(st.floats(0, 1e12), min_size=n, max_size=n)))
    body_low = np.minimum(opens, closes)
    frame = pd.DataFrame(
        {
            "open_time_ms": times.astype(np.int64),
            "open": opens,
            "high": np.maximum(opens, closes) + up,
            "low": np.maximum(body_low - down, body_low / 2),
            "close": closes,
            "volume": volume,
        }
    )
    return frame, interval_ms, sum(1 for m in multiples if m > 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=bar_frames(), suffix=st.sampled_from([".csv", ".csv.gz", ".parquet"]))
def test_round_trip_through_every_format(data: tuple[pd.DataFrame, int, int], suffix: str) -> None:
    frame, interval_ms, gaps = data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"SOLUSDT_bars{suffix}"
        if suffix == ".parquet":
            frame.to_parquet(path)
        else:
            frame.to_csv(path, index=False)
        bars = load_bars(path)
    assert bars.symbol == "SOL/USDT"
    assert bars.interval_ns == interval_ms * 10**6
    assert bars.gaps == gaps
    assert bars.ts_open_ns.tolist() == (frame["open_time_ms"] * 10**6).tolist()
    for name in ("open", "high", "low", "close", "volume"):
        assert getattr(bars, name).tolist() == frame[name].tolist(), name
    rows = list(iter_bar_rows(bars))
    assert [r[5] for r in rows] == frame["close"].tolist()


@settings(max_examples=80, deadline=None)
@given(
    seconds=st.integers(min_value=100_000_000, max_value=9_000_000_000),
    unit=st.sampled_from([1, 1_000, 1_000_000, 1_000_000_000]),
)
def test_any_plausible_epoch_reads_the_same_in_every_unit(seconds: int, unit: int) -> None:
    frame = ohlcv_frame(2).drop(columns=["open_time_ms", "datetime_utc"])
    frame.insert(0, "timestamp", [seconds * unit, (seconds + 60) * unit])
    with tempfile.TemporaryDirectory() as folder:
        bars = load_bars(write_csv(frame, Path(folder) / "BTCUSDT.csv"))
    assert bars.ts_open_ns.tolist() == [seconds * 10**9, (seconds + 60) * 10**9]


# --- bundled slice (always on: it ships in the package) --------------------------------------


def test_bundled_slice_is_small_real_btc_and_eth() -> None:
    files = bundled_files()
    assert [f.name for f in files] == [
        "BTCUSDT_spot_1m_2021-04-19_2021-04-25.csv.gz",
        "ETHUSDT_spot_1m_2021-04-19_2021-04-25.csv.gz",
    ]
    assert sum(f.stat().st_size for f in files) <= 2 * 1024 * 1024
    assert (files[0].parent / "README.md").is_file()


@pytest.mark.parametrize(
    ("index", "symbol", "first_open", "first_close"),
    [(0, "BTC/USDT", 56150.01, 56234.8), (1, "ETH/USDT", 2235.65, 2244.3)],
)
def test_bundled_slice_loads_with_its_documented_shape(
    index: int, symbol: str, first_open: float, first_close: float
) -> None:
    bars: BarArrays = load_bars(bundled_files()[index])
    assert bars.symbol == symbol
    assert len(bars) == 9646
    assert bars.interval_ns == MINUTE_NS
    assert (bars.gaps, bars.missing_bars) == (2, 434)
    assert bars.ts_open_ns[0] == pd.Timestamp("2021-04-19T00:00Z").value
    assert bars.ts_open_ns[-1] == pd.Timestamp("2021-04-25T23:59Z").value
    assert (bars.open[0], bars.close[0]) == (first_open, first_close)


def test_bundled_slice_keeps_the_source_columns() -> None:
    with gzip.open(bundled_files()[0], "rt") as handle:
        header = handle.readline().strip()
    assert header == "open_time_ms,datetime_utc,open,high,low,close,volume"
