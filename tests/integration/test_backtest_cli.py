"""The real `grekko backtest` command on the bundled real-data slice, in a subprocess: its JSON
and HTML outputs, and clear errors with exit code 2 for bad input."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grekko.adapters.files.bars import bundled_files

pytestmark = pytest.mark.slow

JSON_KEYS = {
    "bars",
    "orders",
    "fills",
    "final_equity",
    "total_return",
    "max_drawdown",
    "sharpe",
    "elapsed_s",
}


def grekko_command() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


def clean_env() -> dict[str, str]:
    """No GREKKO_* settings from the developer's shell leak into the run."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")}


def start(args: list[str], data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*grekko_command(), "backtest", "--no-progress", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


@pytest.fixture(scope="module")
def bundled() -> list[Path]:
    files = bundled_files()
    assert [f.name[:7] for f in files] == ["BTCUSDT", "ETHUSDT"]
    return files


@pytest.fixture(scope="module")
def full_run(
    bundled: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any], Path]:
    out_dir = tmp_path_factory.mktemp("backtest")
    json_out, report = out_dir / "run.json", out_dir / "report.html"
    args = ["--json-out", str(json_out), "--report", str(report), "--quantity", "0.1"]
    for path in bundled:
        args += ["--data", str(path)]
    code, out, err = finish(start(args, out_dir / "data"))
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out), json.loads(json_out.read_text()), report


def test_json_carries_the_results(full_run: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    summary, payload, _ = full_run
    assert payload.keys() >= JSON_KEYS
    assert payload["bars"] == 2 * 9_646  # both bundled files, every row
    assert payload["instruments"] == ["BTC/USDT@paper", "ETH/USDT@paper"]
    assert payload["elapsed_s"] >= 0
    assert len(payload["fills"]) > 0
    assert len(payload["orders"]) >= len(payload["fills"])
    assert payload["handler_errors"] == 0
    assert payload["trading_state"] == "active"
    for key in ("total_return", "max_drawdown", "sharpe"):
        assert isinstance(payload[key], float)
    assert 0 <= payload["max_drawdown"] < 1
    assert summary["fills"] == len(payload["fills"])
    assert summary["orders"] == len(payload["orders"])
    assert summary["final_equity"] == payload["final_equity"]
    initial = Decimal(payload["initial_cash"])
    total_return = float((Decimal(payload["final_equity"]) - initial) / initial)
    assert payload["total_return"] == pytest.approx(total_return, rel=1e-9, abs=1e-15)


def test_final_equity_is_cash_plus_positions_at_the_last_close(
    bundled: list[Path], full_run: tuple[dict[str, Any], dict[str, Any], Path]
) -> None:
    _, payload, _ = full_run
    cash = Decimal(payload["initial_cash"])
    held: dict[str, Decimal] = {}
    for fill in payload["fills"]:
        qty, price, fee = (Decimal(fill[k]) for k in ("qty", "price", "fee"))
        signed = qty if fill["side"] == "buy" else -qty
        cash -= signed * price + fee
        held[fill["instrument_id"]] = held.get(fill["instrument_id"], Decimal(0)) + signed
        assert fee == qty * price * Decimal("0.001")
        assert fill["liquidity"] == "taker"
    last_close = {
        f"{path.name[:3]}/USDT@paper": Decimal(pd.read_csv(path, dtype=str)["close"].iloc[-1])
        for path in bundled
    }
    equity = cash + sum((qty * last_close[iid] for iid, qty in held.items()), Decimal(0))
    assert Decimal(payload["final_equity"]) == equity


def test_market_orders_fill_at_the_next_bars_open_from_the_file(
    bundled: list[Path], full_run: tuple[dict[str, Any], dict[str, Any], Path]
) -> None:
    _, payload, _ = full_run
    opens = {}
    for path in bundled:
        frame = pd.read_csv(path, dtype=str)
        stamps = pd.to_datetime(frame["open_time_ms"].astype("int64"), unit="ms", utc=True)
        iso = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        opens[f"{path.name[:3]}/USDT@paper"] = dict(zip(iso, frame["open"], strict=True))
    orders = {o["client_order_id"]: o for o in payload["orders"]}
    for fill in payload["fills"]:
        assert Decimal(fill["price"]) == Decimal(opens[fill["instrument_id"]][fill["ts"]])
        assert orders[fill["client_order_id"]]["ts_init"] <= fill["ts"]


def test_html_report_is_written(full_run: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    _, _, report = full_run
    html = report.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "sma_cross" in html
    assert "<script src=" not in html  # offline: plotly is inline, nothing is fetched


def write_gz_csv(path: Path, text: str) -> Path:
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    return path


BAD_INPUT = {
    "missing column": (["--data", "{no_close}"], "missing columns: close"),
    "missing file": (["--data", "{tmp}/nope_BTCUSDT_1m.csv"], "no such file"),
    "unknown strategy": (["--data", "{btc}", "--strategy", "nope"], "nope"),
    "param without value": (["--data", "{btc}", "--param", "fast"], "key=value"),
    "param of the wrong type": (["--data", "{btc}", "--param", "fast=abc"], "fast"),
    "unknown param": (["--data", "{btc}", "--param", "speed=3"], "unknown parameter"),
}


@pytest.fixture(scope="module")
def bad_runs(
    bundled: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, str, str]]:
    """All bad invocations at once, in parallel: each is a separate process anyway."""
    tmp = tmp_path_factory.mktemp("bad")
    no_close = write_gz_csv(
        tmp / "BTCUSDT_1m.csv.gz",
        "open_time_ms,open,high,low,volume\n1735603200000,1,2,0.5,3\n",
    )
    values = {"no_close": no_close, "tmp": tmp, "btc": bundled[0]}
    processes = {
        name: start([arg.format(**values) for arg in args], tmp / "data")
        for name, (args, _) in BAD_INPUT.items()
    }
    return {name: finish(process) for name, process in processes.items()}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_a_clear_error_with_exit_code_2(
    bad_runs: dict[str, tuple[int, str, str]], case: str
) -> None:
    code, out, err = bad_runs[case]
    assert code == 2, (out, err)
    assert BAD_INPUT[case][1] in err
    assert "Traceback" not in err
    assert out == ""
