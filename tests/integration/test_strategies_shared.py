"""`grekko backtest` runs each built-in strategy on a real Binance year of BTCUSDT hourly bars.

The JSON must hold together on its own terms: replaying its fills in Decimal from the starting
cash, and marking what is left at the file's last close, gives exactly its final equity; the
position never goes short (spot) nor past what the strategy may hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shared_data import shared_file

pytestmark = [pytest.mark.shared, pytest.mark.slow]

CASH = Decimal(10_000_000)
Run = dict[str, Any]
MAX_HELD = {
    "trend_following": Decimal(1),
    "mean_reversion": Decimal(1),
    "avellaneda_stoikov": Decimal(10),  # default max_inventory: 10 lots of the quantity
}


def grekko_command() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


@pytest.fixture(scope="module")
def data() -> Path:
    path: Path = shared_file("ohlcv_binance_2024_2025", "BTCUSDT_spot_1h.csv.gz")
    return path


@pytest.fixture(scope="module")
def runs(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, Run]]:
    """All three at once, one process each: (stdout summary, --json-out payload)."""
    tmp = tmp_path_factory.mktemp("strategies")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")}
    started = {}
    for name in MAX_HELD:
        out = tmp / f"{name}.json"
        args = [
            *grekko_command(),
            "backtest",
            "--no-progress",
            "--data-dir",
            str(tmp / "data"),
            "--data",
            str(data),
            "--strategy",
            name,
            "--cash",
            str(CASH),
            "--json-out",
            str(out),
        ]
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        started[name] = (process, out)
    results = {}
    for name, (process, out) in started.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr
        results[name] = (json.loads(stdout), json.loads(out.read_text()))
    return results


def last_close(path: Path) -> Decimal:
    text = pd.read_csv(path, dtype=str, usecols=["close"])["close"]
    return Decimal(text.iloc[-1])


@pytest.mark.parametrize("name", list(MAX_HELD))
def test_fills_replay_to_the_reported_final_equity(
    runs: dict[str, tuple[Run, Run]], data: Path, name: str
) -> None:
    summary, payload = runs[name]
    fills: list[dict[str, Any]] = payload["fills"]
    assert payload["strategy"] == name
    assert payload["handler_errors"] == 0
    assert payload["orders_denied"] == 0
    assert payload["trading_state"] == "active"
    assert payload["bars"] == len(pd.read_csv(data, usecols=["close"]))
    assert summary["fills"] == len(fills) > 20
    assert summary["orders"] == len(payload["orders"])
    cash, held, peak = CASH, Decimal(0), Decimal(0)
    for fill in fills:
        qty, price, fee = Decimal(fill["qty"]), Decimal(fill["price"]), Decimal(fill["fee"])
        signed = qty if fill["side"] == "buy" else -qty
        cash -= signed * price + fee
        held += signed
        assert held >= 0
        peak = max(peak, held)
    assert 0 < peak <= MAX_HELD[name]
    final = Decimal(payload["final_equity"])
    assert final == cash + held * last_close(data)
    assert payload["total_return"] == pytest.approx(float(final / CASH - 1), rel=1e-9, abs=1e-12)
    assert 0 <= payload["max_drawdown"] < 0.05


def test_each_strategy_trades_in_its_own_way(runs: dict[str, tuple[Run, Run]]) -> None:
    kinds = {
        name: {(o["type"], o["side"]) for o in payload["orders"]}
        for name, (_, payload) in runs.items()
    }
    assert ("stop_market", "sell") in kinds["trend_following"]
    assert ("market", "buy") in kinds["trend_following"]
    assert ("stop_market", "sell") in kinds["mean_reversion"]
    assert kinds["avellaneda_stoikov"] == {("limit", "buy"), ("limit", "sell")}
    maker = {f["liquidity"] for f in runs["avellaneda_stoikov"][1]["fills"]}
    assert maker == {"maker"}
