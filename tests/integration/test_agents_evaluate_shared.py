"""`grekko agents evaluate` on a year of real Binance 1h bars (BTC and ETH), in a subprocess: the
HTML report it writes, and its JSON figures checked against each other and, for buy-and-hold,
against an independent computation from the files with pandas."""

from __future__ import annotations

import html
import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from shared_data import shared_file

pytestmark = [pytest.mark.shared, pytest.mark.slow]

CASH = 100_000.0
FEE = 0.001
SYMBOLS = ("BTCUSDT", "ETHUSDT")
RUNS = ["ensemble", "spot+gordo", "spot+gekko", "buy_and_hold"]


def grekko_command() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


@pytest.fixture(scope="module")
def files() -> list[Path]:
    return [shared_file("ohlcv_binance_2024_2025", f"{s}_spot_1h.csv.gz") for s in SYMBOLS]


@pytest.fixture(scope="module")
def evaluation(
    files: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any], str]:
    tmp = tmp_path_factory.mktemp("evaluate")
    report, json_out = tmp / "report.html", tmp / "evaluation.json"
    args = [*grekko_command(), "agents", "evaluate", "--no-progress", "--data-dir", str(tmp)]
    for path in files:
        args += ["--data", str(path)]
    args += ["--cash", str(CASH), "--fee", str(FEE), "--report", str(report)]
    args += ["--json-out", str(json_out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout), json.loads(json_out.read_text()), report.read_text()


def runs_by_name(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {run["name"]: run for run in payload["runs"]}


def test_every_configuration_ran(evaluation: tuple[dict[str, Any], dict[str, Any], str]) -> None:
    summary, payload, _ = evaluation
    assert [run["name"] for run in payload["runs"]] == RUNS
    assert list(summary["runs"]) == RUNS
    runs = runs_by_name(payload)
    assert runs["spot+gordo"]["agents"] == ["spot", "gordo"]
    assert runs["spot+gekko"]["agents"] == ["spot", "gekko"]
    assert runs["ensemble"]["agents"] == ["spot", "gordo", "gekko"]


def test_returns_are_final_equity_over_cash(
    evaluation: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    _, payload, _ = evaluation
    for run in payload["runs"]:
        m = run["metrics"]
        assert m["total_return"] == pytest.approx(m["final_equity"] / CASH - 1, abs=1e-12)
        assert m["pnl"] == pytest.approx(m["final_equity"] - CASH, abs=1e-6)
        assert 0.0 <= m["max_drawdown"] <= 1.0
        assert m["hit_rate"] is None or 0.0 <= m["hit_rate"] <= 1.0
        if run["kernel_equity"] is not None:  # the rebuilt curve ends where the portfolio does
            assert m["final_equity"] == pytest.approx(float(Decimal(run["kernel_equity"])))


def test_the_agents_own_pnl_adds_up_to_the_runs(
    evaluation: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    _, payload, _ = evaluation
    for run in payload["runs"][:-1]:
        parts = run["attribution"]
        assert sum(a["metrics"]["pnl"] for a in parts.values()) == pytest.approx(
            run["metrics"]["pnl"], abs=1e-6
        )
        assert sum(a["metrics"]["fills"] for a in parts.values()) == run["metrics"]["fills"]
        for a in parts.values():
            assert a["metrics"]["pnl"] == pytest.approx(float(a["book"]["net_pnl"]), abs=1e-6)
        assert parts["spot"]["metrics"]["fills"] == 0


def test_proposals_and_approval_rates_match_the_decisions(
    evaluation: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    _, payload, _ = evaluation
    for run in payload["runs"][:-1]:
        d, m = run["decisions"], run["metrics"]
        assert m["proposals"] == d["proposals"] == sum(d["by_decision"].values()) > 0
        yes = d["by_decision"].get("approved", 0) + d["by_decision"].get("modified", 0)
        assert m["approval_rate"] == pytest.approx(
            yes / (yes + d["by_decision"].get("rejected", 0))
        )
        by_agent = sum(a["metrics"]["proposals"] for a in run["attribution"].values())
        assert by_agent == m["proposals"]
        assert "awaiting_confirmation" not in d["by_status"]  # auto-confirmed


def independent_buy_and_hold(files: list[Path]) -> npt.NDArray[np.float64]:
    """Half the cash into each file's coin at its first close (fee included), marked hourly."""
    curves = []
    for path in files:
        close = pd.read_csv(path)["close"].to_numpy(dtype=float)
        curves.append(CASH / len(files) / (close[0] * (1 + FEE)) * close)
    total: npt.NDArray[np.float64] = np.sum(curves, axis=0)
    return total


def test_buy_and_hold_matches_an_independent_computation(
    evaluation: tuple[dict[str, Any], dict[str, Any], str], files: list[Path]
) -> None:
    _, payload, _ = evaluation
    m = runs_by_name(payload)["buy_and_hold"]["metrics"]
    equity = independent_buy_and_hold(files)
    returns = np.diff(equity) / equity[:-1]
    assert m["total_return"] == pytest.approx(equity[-1] / CASH - 1, rel=1e-9)
    peak = np.maximum.accumulate(equity)
    assert m["max_drawdown"] == pytest.approx(float(np.max((peak - equity) / peak)), rel=1e-9)
    hourly_sharpe = np.mean(returns) / np.std(returns, ddof=1)
    assert m["sharpe"] == pytest.approx(hourly_sharpe * math.sqrt(365 * 24), rel=1e-9)
    assert m["fees"] == pytest.approx(CASH - CASH / (1 + FEE))


def test_every_run_is_described_honestly(
    evaluation: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    summary, payload, _ = evaluation
    for run in payload["runs"]:
        m, sentence = run["metrics"], run["summary"]
        assert sentence == summary["runs"][run["name"]]["summary"]
        assert ("lost" in sentence) == (m["pnl"] < 0)
        assert ("gained" in sentence) == (m["pnl"] > 0)
        assert f"{abs(m['total_return']) * 100:.2f} %" in sentence


def test_the_report_holds_the_plots_and_the_tables(
    evaluation: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    _, payload, page = evaluation
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="grekko-agent-evaluation-plot"' in page
    assert "Plotly.newPlot" in page
    assert "<script src=" not in page  # plotly.js is embedded: the file works offline
    for title in ("Equity: ensemble", "Drawdown (%)", "own PnL inside the ensemble"):
        assert title in page
    for caption in ("Metrics", "Decisions", "Parameters"):
        assert f"<caption>{caption}</caption>" in page
    for name in RUNS:
        assert f"<td>{html.escape(name)}</td>" in page
    for agent in ("gordo", "gekko"):
        assert f"{agent} (in ensemble)" in page
    for run in payload["runs"]:
        assert html.escape(run["summary"]) in page
