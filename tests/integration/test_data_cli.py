"""`grekko data` end to end, in subprocesses: import the bundled real slice, read it back, resample
on read, report its real gaps; bad files exit 2 and store nothing; fetch goes through real ccxt
to the local recorded Coinbase server (tests/recorded_exchange.py)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.adapters.sql.candle_store import SqlCandleStore
from grekko.cli import main
from grekko.core.time import iso_to_ns
from grekko.domain.candles import resample
from grekko.domain.data import Bar
from recorded_exchange import FIXTURES, Fault, RecordedExchange, load_fixture

pytestmark = pytest.mark.slow

IID = "BTC/USDT@binance"


def grekko_command() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


def clean_env() -> dict[str, str]:
    """No GREKKO_* settings from the developer's shell leak into the run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")}


def grekko_data(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*grekko_command(), "data", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def open_store(data_dir: Path) -> SqlCandleStore:
    return SqlCandleStore(f"sqlite:///{data_dir / 'grekko.db'}")


def candle_rows(data_dir: Path) -> int:
    """Rows in the candles table; 0 if the database was never even created."""
    path = data_dir / "grekko.db"
    if not path.exists():
        return 0
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT count(*) FROM candles").scalar_one())
    finally:
        engine.dispose()


def run_main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """The real entry point in this process (no interpreter start-up per case)."""
    monkeypatch.setattr(sys, "argv", ["grekko", *args])
    for name in [k for k in os.environ if k.startswith("GREKKO_")]:
        monkeypatch.delenv(name)
    with pytest.raises(SystemExit) as stopped:
        main()
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err


@pytest.fixture(scope="module")
def bundled_btc() -> Path:
    return next(p for p in bundled_files() if p.name.startswith("BTCUSDT"))


@pytest.fixture(scope="module")
def file_bars(bundled_btc: Path) -> list[Bar]:
    rows = iter_bar_rows(load_bars(bundled_btc))
    return [Bar(IID, o, h, lo, c, v, t0, t1) for t0, t1, o, h, lo, c, v in rows]


def test_import_the_bundled_file_then_read_show_and_check_gaps(
    tmp_path: Path,
    bundled_btc: Path,
    file_bars: list[Bar],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    done = grekko_data(tmp_path, "import", str(bundled_btc), "--no-progress")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["instrument"] == IID
    assert (summary["timeframe"], summary["written"], summary["stored_bars"]) == ("1m", 9646, 9646)
    assert (summary["first"], summary["last"]) == ("2021-04-19T00:00:00Z", "2021-04-25T23:59:00Z")
    assert (summary["missing"], summary["gaps"]) == (434, 2)
    assert [g["missing"] for g in summary["gap_ranges"]] == [150, 284]
    with open_store(tmp_path) as store:
        assert store.range(IID, "1m") == file_bars

    def grekko_here(*args: str) -> tuple[int, str, str]:
        return run_main(["data", *args, "--data-dir", str(tmp_path)], monkeypatch, capsys)

    assert grekko_here("import", str(bundled_btc), "--no-progress")[0] == 0
    assert candle_rows(tmp_path) == 9646

    five = resample(file_bars, "5m")[:3]
    code, out, err = grekko_here(
        "show", "--symbol", "BTC/USDT", "--timeframe", "5m", "--since", "2021-04-19", "--limit", "3"
    )
    assert code == 0, err
    lines = [line for line in out.splitlines() if "2021-04-19T00:" in line]
    assert len(lines) == 3
    assert [line.split()[1] for line in lines[:3]] == [
        "2021-04-19T00:00:00Z",
        *(f"2021-04-19T00:{m:02d}:00Z" for m in (5, 10)),
    ]
    first = lines[0]
    assert f"{five[0].open:,.8g}" in first
    assert f"{five[0].high:,.8g}" in first
    assert f"{five[0].close:,.8g}" in first

    code, out, err = grekko_here("gaps", "--symbol", "BTC/USDT@binance", "--timeframe", "1h")
    assert code == 0, err
    report = json.loads(out)
    assert (report["missing"], [g["missing"] for g in report["gap_ranges"]]) == (5, [2, 3])


def test_import_resampled_to_a_coarser_timeframe(
    tmp_path: Path, bundled_btc: Path, file_bars: list[Bar]
) -> None:
    done = grekko_data(tmp_path, "import", str(bundled_btc), "--timeframe", "1h")
    assert done.returncode == 0, done.stderr
    hourly = resample(file_bars, "1h")
    assert json.loads(done.stdout)["written"] == len(hourly) == 7 * 24 - 5
    with open_store(tmp_path) as store:
        assert [tf.label for tf in store.timeframes(IID)] == ["1h"]
        assert store.range(IID, "1h") == hourly


def corrupt_copy(source: Path, target: Path, edit: Any) -> Path:
    frame = edit(pd.read_csv(source))
    with gzip.open(target, "wt") as fh:
        frame.to_csv(fh, index=False)
    return target


def high_below_low(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[4999, "high"] = frame.loc[4999, "low"] / 2
    return frame


def off_the_minute_grid(frame: pd.DataFrame) -> pd.DataFrame:
    frame["open_time_ms"] += 30_000
    return frame.drop(columns=["datetime_utc"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (high_below_low, "row 5000: high below max(open, close)"),
        (off_the_minute_grid, "not on the 60s grid"),
    ],
)
def test_a_malformed_file_exits_2_and_stores_nothing(
    tmp_path: Path, bundled_btc: Path, edit: Any, message: str
) -> None:
    bad = corrupt_copy(bundled_btc, tmp_path / "BTCUSDT_spot_1m_bad.csv.gz", edit)
    done = grekko_data(tmp_path / "home", "import", str(bad))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert candle_rows(tmp_path / "home") == 0


def every_fifth_minute(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["open_time_ms"] % 300_000 == 0]


def test_unusable_input_is_a_clear_error(
    tmp_path: Path,
    bundled_btc: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    garbage = tmp_path / "BTCUSDT_1m.csv.gz"
    garbage.write_bytes(b"\x1f\x8b not really gzip")
    fives = corrupt_copy(bundled_btc, tmp_path / "BTCUSDT_5m.csv.gz", every_fifth_minute)
    cases = [
        (["import", str(garbage)], "cannot read"),
        (["import", str(fives), "--timeframe", "7m"], "holds 5m bars: --timeframe 7m cannot"),
        (["import", str(fives), "--timeframe", "1m"], "cannot be made"),
        (["import", str(bundled_btc), "--timeframe", "1w"], "timeframe must look like"),
        (["import", str(bundled_btc), "--venue", "Bin ance"], "venue"),
        (["show", "--symbol", "BTCUSDT"], "ccxt unified form"),
        (["gaps", "--symbol", "BTC/USDT", "--since", "yesterday"], "ISO 8601"),
    ]
    for args, message in cases:
        code, _out, err = run_main(
            ["data", *args, "--data-dir", str(tmp_path / "home")], monkeypatch, capsys
        )
        assert code == 2, (args, err)
        assert message in err, (args, err)
    assert candle_rows(tmp_path / "home") == 0


# ---- fetch through ccxt from the recorded Coinbase server -----------------------------------------
RECORDED = sorted(load_fixture("http_candles.json")["candles"], key=lambda r: int(r["start"]))


async def fetch(data_dir: Path, server: RecordedExchange) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *grekko_command(),
        "data",
        "fetch",
        "--exchange",
        "coinbase",
        "--symbol",
        "BTC/USD",
        "--timeframe",
        "1h",
        "--since",
        "2024-04-03T22:00",
        "--until",
        "2024-04-04T03:00:00Z",
        "--api-url",
        server.rest_url,
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def recorded_bar(row: dict[str, str]) -> Bar:
    ts = int(row["start"]) * 10**9
    values = (float(row[k]) for k in ("open", "high", "low", "close", "volume"))
    return Bar("BTC/USD@coinbase", *values, ts, ts + 3600 * 10**9)


@pytest.mark.asyncio
async def test_fetch_stores_the_recorded_coinbase_candles_after_a_failed_try(
    tmp_path: Path,
) -> None:
    async with RecordedExchange() as server:
        server.fail_next("/candles", Fault(503, '{"error":"UNAVAILABLE","message":"maintenance"}'))
        failed = await fetch(tmp_path, server)
        code, out, err = await fetch(tmp_path, server)
    assert failed[0] == 2
    assert failed[2].strip().splitlines()[-1].startswith("error: coinbase: ")
    assert "Traceback" not in failed[2]
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["received"], summary["written"], summary["rejected"]) == (2, 2, 0)
    assert (summary["expected"], summary["missing"]) == (5, 3)
    with open_store(tmp_path) as store:
        assert store.range("BTC/USD@coinbase", "1h") == [recorded_bar(r) for r in RECORDED]
    assert iso_to_ns(summary["first"]) == int(RECORDED[0]["start"]) * 10**9


@pytest.mark.asyncio
async def test_fetch_counts_and_drops_a_bad_candle(tmp_path: Path) -> None:
    fixtures = shutil.copytree(FIXTURES, tmp_path / "fixtures")
    payload = json.loads((fixtures / "http_candles.json").read_text())
    broken = next(r for r in payload["candles"] if r["start"] == RECORDED[0]["start"])
    broken["high"] = str(float(broken["low"]) - 1)
    (fixtures / "http_candles.json").write_text(json.dumps(payload))
    async with RecordedExchange(fixtures=fixtures) as server:
        code, out, err = await fetch(tmp_path / "home", server)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["received"], summary["written"]) == (2, 1)
    assert summary["rejected_by_reason"] == {"ohlc": 1}
    with open_store(tmp_path / "home") as store:
        assert store.range("BTC/USD@coinbase", "1h") == [recorded_bar(RECORDED[1])]
