"""Timeframes, resampling and gap reports, on real Binance files and on generated series.

The real-data checks are the ones that matter: resampling the 5m files must reproduce Binance's
own 1h candles, and the gap report on the 2021 1m file must find the outages an independent
count finds (434 missing minutes, including the 2021-04-25 maintenance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.adapters.files.bars import BarArrays, iter_bar_rows, load_bars
from grekko.core.errors import DataError
from grekko.core.time import iso_to_ns
from grekko.domain.candles import (
    Gap,
    Timeframe,
    check_raw_bars,
    checked_bar,
    gap_report,
    resample,
)
from grekko.domain.data import Bar
from grekko.domain.raw import RawBar
from shared_data import shared_file

IID = "BTC/USDT@binance"
MINUTE = 60 * 10**9
T0 = iso_to_ns("2024-01-01T00:00:00Z")


def bars_of(arrays: BarArrays, iid: str = IID) -> list[Bar]:
    return [Bar(iid, o, h, lo, c, v, t0, t1) for t0, t1, o, h, lo, c, v in iter_bar_rows(arrays)]


def minute_bar(index: int, o: float, h: float, lo: float, c: float, v: float = 1.0) -> Bar:
    ts = T0 + index * MINUTE
    return Bar(IID, o, h, lo, c, v, ts, ts + MINUTE)


# ---- Timeframe ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds", "label"),
    [
        ("1m", 60, "1m"),
        ("5m", 300, "5m"),
        ("15m", 900, "15m"),
        ("1h", 3600, "1h"),
        ("4h", 14_400, "4h"),
        ("1d", 86_400, "1d"),
        ("60m", 3600, "1h"),
        ("90m", 5400, "90m"),
        (" 24h ", 86_400, "1d"),
    ],
)
def test_timeframe_parses_and_labels(text: str, seconds: int, label: str) -> None:
    tf = Timeframe.parse(text)
    assert (tf.seconds, tf.label, str(tf), tf.ns) == (seconds, label, label, seconds * 10**9)


@pytest.mark.parametrize("text", ["", "1", "m", "0m", "1s", "1w", "1M", "-5m", "1.5h", "5 m"])
def test_timeframe_rejects_what_it_cannot_grid(text: str) -> None:
    with pytest.raises(DataError, match="timeframe"):
        Timeframe.parse(text)


def test_timeframe_arithmetic() -> None:
    hour = Timeframe.parse("1h")
    ts = T0 + 90 * MINUTE
    assert hour.floor(ts) == T0 + 60 * MINUTE
    assert hour.ceil(ts) == T0 + 120 * MINUTE
    assert hour.ceil(T0) == T0 == hour.floor(T0)
    assert Timeframe.parse("5m").divides(hour)
    assert not Timeframe.parse("7m").divides(hour)
    assert sorted([Timeframe.parse("1d"), Timeframe.parse("1m")])[0].label == "1m"
    assert Timeframe.from_ns(300 * 10**9) == Timeframe.parse("5m")
    with pytest.raises(DataError):
        Timeframe.from_ns(1_500_000_000)
    with pytest.raises(DataError):
        Timeframe(30)


# ---- resample: real data ------------------------------------------------------------------------
@pytest.mark.shared
@pytest.mark.parametrize("pair", ["BTCUSDT", "ETHUSDT"])
def test_resampled_5m_reproduces_binance_1h_files(pair: str) -> None:
    five = load_bars(shared_file("ohlcv_binance_2024_2025", f"{pair}_spot_5m.csv.gz"))
    hourly = load_bars(shared_file("ohlcv_binance_2024_2025", f"{pair}_spot_1h.csv.gz"))
    made = resample(bars_of(five), "1h")
    first, last = made[0].ts_open, made[-1].ts_open
    real = [b for b in bars_of(hourly) if first <= b.ts_open <= last]
    assert len(made) == len(real) == 5856  # 2024-12-31 00:00 .. 2025-08-31 23:00
    for mine, theirs in zip(made, real, strict=True):
        assert (mine.ts_open, mine.ts_event) == (theirs.ts_open, theirs.ts_event)
        assert (mine.open, mine.high, mine.low, mine.close) == (
            theirs.open,
            theirs.high,
            theirs.low,
            theirs.close,
        )
        assert math.isclose(mine.volume, theirs.volume, rel_tol=1e-12)


@pytest.mark.shared
def test_resample_across_the_real_outage_keeps_thinned_buckets() -> None:
    minutes = bars_of(load_bars(shared_file("ohlcv_binance_2021_1m_5m", "BTCUSDT_spot_1m.csv.gz")))
    hourly = resample(minutes, "1h")
    opens = {b.ts_open for b in hourly}
    # 2021-04-20 02:00-04:29 missing: the 02:00 and 03:00 hours have no bar, 04:00 has 30 minutes
    assert iso_to_ns("2021-04-20T02:00:00Z") not in opens
    assert iso_to_ns("2021-04-20T03:00:00Z") not in opens
    four = next(b for b in hourly if b.ts_open == iso_to_ns("2021-04-20T04:00:00Z"))
    source = [b for b in minutes if four.ts_open <= b.ts_open < four.ts_event]
    assert len(source) == 30
    assert four.open == source[0].open
    assert four.close == source[-1].close
    assert len(hourly) == 29 * 24 - 5  # five whole hours lost to the two outages


# ---- resample: rules ----------------------------------------------------------------------------
def test_resample_aggregates_and_drops_an_unfinished_last_bucket() -> None:
    bars = [minute_bar(i, 10 + i, 12 + i, 9 + i, 11 + i, 2.0) for i in range(7)]
    five = resample(bars, "5m")
    assert len(five) == 1
    assert five[0] == Bar(IID, 10, 16, 9, 15, 10.0, T0, T0 + 5 * MINUTE)
    partial = resample(bars, "5m", include_partial=True)
    assert partial[1] == Bar(IID, 15, 18, 14, 17, 4.0, T0 + 5 * MINUTE, T0 + 7 * MINUTE)


def test_resample_rejects_unordered_or_straddling_bars() -> None:
    with pytest.raises(DataError, match="increasing"):
        resample([minute_bar(1, 1, 1, 1, 1), minute_bar(0, 1, 1, 1, 1)], "5m")
    with pytest.raises(DataError, match="increasing"):
        resample([minute_bar(1, 1, 1, 1, 1), minute_bar(1, 1, 1, 1, 1)], "5m")
    five = Bar(IID, 1, 1, 1, 1, 1, T0, T0 + 5 * MINUTE)
    with pytest.raises(DataError, match="boundary"):
        resample([five], "7m")
    assert resample([], "1h") == []


# ---- resample: properties -----------------------------------------------------------------------
PRICES = st.floats(min_value=0.01, max_value=1e6, allow_nan=False, allow_infinity=False)
VOLUMES = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def minute_series(draw: st.DrawFn) -> list[Bar]:
    """Random 1m bars with random gaps; prices and volumes as real feeds have them."""
    rows = draw(
        st.lists(
            st.tuples(st.integers(1, 40), PRICES, PRICES, PRICES, PRICES, VOLUMES),
            min_size=1,
            max_size=150,
        )
    )
    bars: list[Bar] = []
    slot = draw(st.integers(0, 2000))
    for step, o, c, a, b, volume in rows:
        bars.append(minute_bar(slot, o, max(o, c, a, b), min(o, c, a, b), c, volume))
        slot += step
    return bars


TIMEFRAMES = st.sampled_from(["5m", "15m", "1h", "4h", "1d"])


@settings(max_examples=150, deadline=None)
@given(minute_series(), TIMEFRAMES)
def test_resample_properties(bars: list[Bar], label: str) -> None:
    tf = Timeframe.parse(label)
    out = resample(bars, tf, include_partial=True)
    assert math.isclose(
        math.fsum(b.volume for b in out), math.fsum(b.volume for b in bars), rel_tol=1e-9
    )
    assert len(out) == len({tf.floor(b.ts_open) for b in bars})
    for bucket in out:
        inside = [b for b in bars if bucket.ts_open <= b.ts_open < bucket.ts_open + tf.ns]
        assert inside, "a bucket without source bars"
        assert bucket.ts_open % tf.ns == 0
        assert bucket.open == inside[0].open
        assert bucket.close == inside[-1].close
        assert all(bucket.high >= b.high and bucket.low <= b.low for b in inside)
        assert bucket.high == max(b.high for b in inside)
        assert bucket.low == min(b.low for b in inside)
        assert bucket.low <= min(bucket.open, bucket.close) <= max(bucket.open, bucket.close)
        assert max(bucket.open, bucket.close) <= bucket.high
    whole = resample(bars, tf)
    assert whole == out or (whole == out[:-1] and out[-1].ts_event < out[-1].ts_open + tf.ns)


@settings(max_examples=100, deadline=None)
@given(minute_series())
def test_resampling_in_steps_equals_resampling_at_once(bars: list[Bar]) -> None:
    via_five = resample(resample(bars, "5m", include_partial=True), "15m", include_partial=True)
    direct = resample(bars, "15m", include_partial=True)
    assert [b.ts_open for b in via_five] == [b.ts_open for b in direct]
    for a, b in zip(via_five, direct, strict=True):
        assert (a.open, a.high, a.low, a.close) == (b.open, b.high, b.low, b.close)
        assert math.isclose(a.volume, b.volume, rel_tol=1e-9, abs_tol=1e-9)


# ---- gap report ---------------------------------------------------------------------------------
@pytest.mark.shared
def test_gap_report_on_the_real_2021_minutes_agrees_with_an_independent_count() -> None:
    path = shared_file("ohlcv_binance_2021_1m_5m", "BTCUSDT_spot_1m.csv.gz")
    opens = load_bars(path).ts_open_ns
    report = gap_report(opens.tolist(), "1m")
    steps = np.diff(opens) // MINUTE
    independent = int(np.sum(steps[steps > 1] - 1))
    span = int((opens[-1] - opens[0]) // MINUTE) + 1
    assert report.missing == independent == span - len(opens) == 434
    assert (report.bars, report.expected, report.duplicates, report.misaligned) == (
        len(opens),
        span,
        0,
        0,
    )
    assert report.gaps == (
        Gap(iso_to_ns("2021-04-20T02:00:00Z"), iso_to_ns("2021-04-20T04:30:00Z"), 150),
        Gap(iso_to_ns("2021-04-25T04:01:00Z"), iso_to_ns("2021-04-25T08:45:00Z"), 284),
    )
    assert not report.complete


def test_gap_report_bounds_duplicates_and_misalignment() -> None:
    opens = [T0 + 2 * MINUTE, T0 + 3 * MINUTE, T0 + 3 * MINUTE, T0 + 6 * MINUTE + 5]
    report = gap_report(opens, "1m", start_ns=T0, end_ns=T0 + 10 * MINUTE)
    assert (report.bars, report.duplicates, report.misaligned, report.expected) == (4, 1, 1, 10)
    assert report.gaps == (
        Gap(T0, T0 + 2 * MINUTE, 2),
        Gap(T0 + 4 * MINUTE, T0 + 6 * MINUTE, 2),
        Gap(T0 + 7 * MINUTE, T0 + 10 * MINUTE, 3),
    )
    assert report.missing == 7
    empty = gap_report([], "1h", start_ns=T0, end_ns=T0 + 3 * 3_600 * 10**9)
    assert (empty.missing, empty.first_ns, len(empty.gaps)) == (3, None, 1)
    assert gap_report([], "1h").expected == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 500), max_size=200), st.sampled_from(["1m", "5m"]))
def test_gap_report_properties(slots: list[int], label: str) -> None:
    tf = Timeframe.parse(label)
    opens = [T0 + s * tf.ns for s in slots]
    report = gap_report(opens, tf)
    unique = set(opens)
    assert report.duplicates == len(opens) - len(unique)
    assert report.missing == report.expected - len(unique)
    assert report.missing == sum(g.missing for g in report.gaps)
    for gap in report.gaps:
        assert gap.end_ns - gap.start_ns == gap.missing * tf.ns
        assert not any(gap.start_ns <= ts < gap.end_ns for ts in unique)
        assert gap.end_ns in unique


# ---- raw bars from a venue ----------------------------------------------------------------------
HOUR = Timeframe.parse("1h")


def raw(**fields: object) -> RawBar:
    base: dict[str, object] = {
        "venue": "coinbase",
        "symbol": "BTC-USD",
        "ts": 1712192400000,
        "open": "66312.4",
        "high": "66331.99",
        "low": "66055.14",
        "close": "66181.6",
        "volume": "355.82896243",
        "interval_s": 3600,
    }
    return RawBar(**{**base, **fields})


def test_a_real_coinbase_candle_converts() -> None:
    bar = checked_bar(raw(), "BTC/USD@coinbase", HOUR)
    assert bar == Bar(
        "BTC/USD@coinbase",
        66312.4,
        66331.99,
        66055.14,
        66181.6,
        355.82896243,
        1712192400 * 10**9,
        1712196000 * 10**9,
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"open": "abc"}, "open"),
        ({"high": None}, "high"),
        ({"close": float("nan")}, "close"),
        ({"volume": "-1"}, "volume"),
        ({"low": "0"}, "price"),
        ({"high": "66000"}, "ohlc"),
        ({"low": "66200"}, "ohlc"),
        ({"ts": 1712192400001}, "ts.grid"),
        ({"ts": 1712192400000.5}, "ts"),
        ({"ts": True}, "ts"),
        ({"ts": -3_600_000}, "ts"),
        ({"interval_s": 60}, "interval"),
    ],
)
def test_bad_raw_bars_are_rejected_with_a_reason(fields: dict[str, object], reason: str) -> None:
    checked = check_raw_bars([raw(), raw(**fields)], "BTC/USD@coinbase", HOUR)
    assert len(checked.bars) == 1
    assert checked.rejected == {reason: 1}


payload_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(*(payload_values for _ in range(7))), max_size=20))
def test_garbage_never_crashes_and_every_rejection_is_counted(rows: Sequence[tuple]) -> None:
    raws = [
        RawBar("x", "BTC-USD", ts, o, h, lo, c, v, interval)
        for ts, o, h, lo, c, v, interval in rows
    ]
    checked = check_raw_bars(raws, "BTC/USD@x", Timeframe.parse("1m"))
    assert len(checked.bars) + checked.rejected_total == len(raws)
    for bar in checked.bars:
        assert bar.low <= min(bar.open, bar.close)
        assert bar.high >= max(bar.open, bar.close)
