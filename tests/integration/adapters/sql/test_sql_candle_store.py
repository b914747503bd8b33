"""SqlCandleStore on SQLite and PostgreSQL with real Binance bars: round trip, range queries,
upserts, all-or-nothing writes, resampling on read (checked against the domain's resample)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from grekko.adapters.files.bars import BarArrays, bundled_files, iter_bar_rows, load_bars
from grekko.adapters.sql import candle_store as candle_store_module
from grekko.adapters.sql.candle_store import SqlCandleStore
from grekko.core.errors import DataError
from grekko.core.time import iso_to_ns
from grekko.domain.candles import Timeframe, gap_report, resample
from grekko.domain.data import Bar
from grekko.ports.candles import CandleStore
from shared_data import shared_file

IID = "BTC/USDT@binance"
MINUTE = 60 * 10**9
HOUR = 60 * MINUTE

OpenCandles = Callable[..., SqlCandleStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_candles(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenCandles]:
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'data' / 'grekko.db'}", None
    else:
        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("pg_schema")
    handles: list[SqlCandleStore] = []

    def open_store(**options: object) -> SqlCandleStore:
        handle = SqlCandleStore(url, schema=schema, **options)  # type: ignore[arg-type]
        handles.append(handle)
        return handle

    yield open_store
    for handle in handles:
        handle.close()


@pytest.fixture(scope="module")
def minutes() -> BarArrays:
    """The bundled real slice: BTC/USDT 1m, 2021-04-19 .. 04-25, with two real outages."""
    return load_bars(next(p for p in bundled_files() if p.name.startswith("BTCUSDT")))


def bars_of(arrays: BarArrays, iid: str = IID) -> list[Bar]:
    return [Bar(iid, o, h, lo, c, v, t0, t1) for t0, t1, o, h, lo, c, v in iter_bar_rows(arrays)]


def columns(arrays: BarArrays) -> tuple:
    return (arrays.open, arrays.high, arrays.low, arrays.close, arrays.volume)


def stored_count(store: SqlCandleStore) -> int:
    return sum(info.bars for info in store.series())


def test_it_satisfies_the_port(open_candles: OpenCandles) -> None:
    store: CandleStore = open_candles()
    assert store.instruments() == []
    assert store.range(IID, "1m") == []
    assert store.first_ts(IID, "1m") is None


def test_round_trip_and_range_queries(open_candles: OpenCandles, minutes: BarArrays) -> None:
    store = open_candles()
    written = store.write_columns(IID, "1m", minutes.ts_open_ns, columns(minutes))
    assert written == len(minutes) == 9646
    assert store.range(IID, "1m") == bars_of(minutes)
    start, end = iso_to_ns("2021-04-20T01:58:00Z"), iso_to_ns("2021-04-20T04:32:00Z")
    around_outage = store.range(IID, "1m", start, end)
    assert [b.ts_open for b in around_outage] == [
        start,
        start + MINUTE,
        *(iso_to_ns("2021-04-20T04:30:00Z") + i * MINUTE for i in range(2)),
    ]
    assert store.range(IID, "1m", start, limit=3) == around_outage[:3]
    assert store.range(IID, "1m", end_ns=int(minutes.ts_open_ns[0]) + 1) == bars_of(minutes)[:1]
    assert store.range(IID, "1m", limit=0) == []
    assert store.range("ETH/USDT@binance", "1m") == []
    assert store.first_ts(IID, "1m") == int(minutes.ts_open_ns[0])
    assert store.last_ts(IID, "1m") == int(minutes.ts_open_ns[-1])
    assert store.instruments() == [IID]
    assert store.timeframes(IID) == [Timeframe.parse("1m")]
    (info,) = store.series()
    assert (info.instrument_id, info.timeframe.label, info.bars) == (IID, "1m", 9646)


def test_upsert_is_idempotent_and_replaces(open_candles: OpenCandles, minutes: BarArrays) -> None:
    store = open_candles(batch_size=1000)
    bars = bars_of(minutes)
    assert store.write(IID, "1m", bars) == 9646
    assert store.write(IID, "1m", bars) == 9646
    assert stored_count(store) == 9646
    fixed = msgspec.structs.replace(bars[100], close=bars[100].high, volume=1.5)
    store.write(IID, "1m", [fixed])
    assert store.range(IID, "1m", fixed.ts_open, limit=1) == [fixed]
    assert stored_count(store) == 9646
    again = store.range(IID, "1m")
    assert again[:100] == bars[:100]
    assert again[101:] == bars[101:]


def test_within_one_write_the_last_bar_for_an_open_wins(open_candles: OpenCandles) -> None:
    store = open_candles()
    first = Bar(IID, 10, 12, 9, 11, 1, 0, MINUTE)
    second = msgspec.structs.replace(first, close=12.0)
    assert store.write(IID, "1m", [first, second]) == 1
    assert store.range(IID, "1m") == [second]


def test_a_bad_bar_stores_nothing(open_candles: OpenCandles, minutes: BarArrays) -> None:
    store = open_candles()
    bars = bars_of(minutes)
    bad = msgspec.structs.replace(bars[5000], high=bars[5000].low / 2)
    with pytest.raises(DataError, match=r"bar 5001 .*nothing was stored"):
        store.write(IID, "1m", [*bars[:5000], bad, *bars[5001:]])
    off_grid = msgspec.structs.replace(bars[7], ts_open=bars[7].ts_open + 30 * 10**9)
    with pytest.raises(DataError, match="grid"):
        store.write(IID, "1m", [off_grid])
    with pytest.raises(DataError, match="not finite"):
        store.write(IID, "1m", [msgspec.structs.replace(bars[0], volume=float("nan"))])
    assert store.instruments() == []


def test_a_write_that_fails_midway_rolls_back(
    open_candles: OpenCandles, minutes: BarArrays
) -> None:
    """The transaction, not the validation, keeps a half-done write out: fail after two batches."""
    store = open_candles(batch_size=1000)
    seen: list[int] = []

    def interrupt(done: int) -> None:
        seen.append(done)
        if done >= 2000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.write_columns(IID, "1m", minutes.ts_open_ns, columns(minutes), on_progress=interrupt)
    assert seen == [1000, 2000]
    assert stored_count(store) == 0
    assert store.write_columns(IID, "1m", minutes.ts_open_ns, columns(minutes)) == 9646


@pytest.mark.parametrize("page", [97, 1000, 10_000])
def test_resampled_reads_match_the_domain_resample(
    open_candles: OpenCandles, minutes: BarArrays, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page sizes that split buckets, and outages, must not change a single resampled bar."""
    monkeypatch.setattr(candle_store_module, "_MIN_PAGE", page)
    store = open_candles()
    store.write_columns(IID, "1m", minutes.ts_open_ns, columns(minutes))
    bars = bars_of(minutes)
    for label in ("5m", "15m", "1h", "4h", "1d"):
        assert store.range(IID, label) == resample(bars, label), label
    start = iso_to_ns("2021-04-20T00:30:00Z")
    hourly = store.range(IID, "1h", start, iso_to_ns("2021-04-20T07:30:00Z"), limit=4)
    assert [b.ts_open for b in hourly] == [
        iso_to_ns(f"2021-04-20T{h:02d}:00:00Z") for h in (1, 4, 5, 6)
    ]
    assert hourly == [b for b in resample(bars, "1h") if b.ts_open in {h.ts_open for h in hourly}]


def test_resampling_keeps_whole_buckets_only(open_candles: OpenCandles) -> None:
    store = open_candles()
    t0 = iso_to_ns("2024-01-01T10:00:00Z")
    early = [Bar(IID, 10, 11, 9, 10, 1, t0 + i * MINUTE, t0 + (i + 1) * MINUTE) for i in range(35)]
    store.write(IID, "1m", early)
    assert store.range(IID, "1h") == []  # 10:00-10:35 is not an hourly bar yet
    later = Bar(IID, 10, 12, 8, 11, 2, t0 + HOUR, t0 + HOUR + MINUTE)
    store.write(IID, "1m", [later])
    assert store.range(IID, "1h") == [Bar(IID, 10, 11, 9, 10, 35, t0, t0 + HOUR)]
    assert store.last_ts(IID, "1h") == t0 + HOUR
    assert store.first_ts(IID, "1d") == iso_to_ns("2024-01-01T00:00:00Z")


def test_stored_timeframes_are_read_directly_and_labels_normalised(
    open_candles: OpenCandles, minutes: BarArrays
) -> None:
    store = open_candles()
    hourly = resample(bars_of(minutes), "1h")
    store.write(IID, "60m", hourly)
    assert store.timeframes(IID) == [Timeframe.parse("1h")]
    assert store.range(IID, "1h") == hourly
    assert store.range(IID, "4h") == resample(hourly, "4h")
    with pytest.raises(DataError, match=r"no stored timeframe \(1h\) can be resampled to 1m"):
        store.range(IID, "1m")
    with pytest.raises(DataError, match="90m"):
        store.range(IID, "90m")


@pytest.mark.shared
def test_the_finest_timeframe_with_data_in_range_is_the_source(
    open_candles: OpenCandles, minutes: BarArrays
) -> None:
    """1m for late April, 5m for March (as the 2021 files come): each range uses what it has."""
    fives = load_bars(shared_file("ohlcv_binance_2021_1m_5m", "BTCUSDT_spot_5m.csv.gz"))
    march = [b for b in bars_of(fives) if b.ts_open >= iso_to_ns("2021-03-25T00:00:00Z")]
    store = open_candles()
    store.write(IID, "5m", march)
    store.write_columns(IID, "1m", minutes.ts_open_ns, columns(minutes))
    end_of_march = iso_to_ns("2021-04-01T00:00:00Z")
    assert store.range(IID, "1h", end_ns=end_of_march) == resample(march, "1h")
    april = store.range(IID, "1h", start_ns=iso_to_ns("2021-04-19T00:00:00Z"))
    assert april == resample(bars_of(minutes), "1h")


def test_gap_reports(open_candles: OpenCandles, minutes: BarArrays) -> None:
    store = open_candles()
    store.write_columns(IID, "1m", minutes.ts_open_ns, columns(minutes))
    report = store.gap_report(IID, "1m")
    assert report == gap_report(minutes.ts_open_ns.tolist(), "1m")
    assert (report.missing, len(report.gaps)) == (434, 2)
    hourly = store.gap_report(IID, "1h")
    assert (hourly.missing, [g.missing for g in hourly.gaps]) == (5, [2, 3])
    day = iso_to_ns("2021-04-19T00:00:00Z")
    wider = store.gap_report(IID, "1m", day - HOUR, day + 8 * 24 * HOUR)
    assert wider.missing == 434 + 60 + 24 * 60
    assert store.gap_report("ETH/USDT@binance", "1m", day, day + HOUR).missing == 60
