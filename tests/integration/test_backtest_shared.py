"""`grekko backtest` on real Binance files against an independent reference written here.

The reference reads the file with pandas, keeps running sums for the two moving averages, fills
each decision at the next bar's open, charges fee = rate x notional, and keeps cash in Decimal
with prices taken from the file's own text (the file's tick). The CLI's fills and final equity
must equal it exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.shared, pytest.mark.slow]

FAST, SLOW = 10, 30
QUANTITY = Decimal("0.5")
FEE = Decimal("0.001")
CASH = Decimal(10_000_000)
FILES = ("BTCUSDT_spot_1h.csv.gz", "ETHUSDT_spot_5m.csv.gz")


def shared_dir() -> Path:
    configured = os.environ.get("GREKKO_SHARED_DIR")
    if configured:
        return Path(configured)
    return (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()


DATA = shared_dir() / "data" / "ohlcv_binance_2024_2025"
if not DATA.is_dir():
    pytest.skip(
        f"real market data not found at {DATA} (set GREKKO_SHARED_DIR)", allow_module_level=True
    )


@dataclass(frozen=True)
class Fill:
    ts: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal


@dataclass(frozen=True)
class Reference:
    fills: list[Fill]
    orders: int
    final_equity: Decimal


def decimals(text: str) -> int:
    _, _, fraction = text.partition(".")
    return len(fraction)


def reference(path: Path) -> Reference:
    """Long/flat SMA cross, written from its description, not from the product's code."""
    frame = pd.read_csv(path)
    text = pd.read_csv(path, dtype=str, usecols=["open", "high", "low", "close"])
    tick = Decimal(1).scaleb(-int(max(text[c].map(decimals).max() for c in text.columns)))
    opens = [Decimal(t).quantize(tick) for t in text["open"]]
    stamps = pd.to_datetime(frame["open_time_ms"], unit="ms", utc=True)
    iso = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").tolist()
    closes = frame["close"].tolist()
    cash, held, pending, orders = CASH, Decimal(0), None, 0
    fills: list[Fill] = []
    fast_sum = slow_sum = prev_fast = prev_slow = 0.0
    for i, close in enumerate(closes):
        if pending is not None:  # an order decided at the last close fills at this open
            side, qty = pending
            price = opens[i]
            fee = FEE * qty * price
            signed = qty if side == "buy" else -qty
            cash -= signed * price + fee
            held += signed
            fills.append(Fill(iso[i], side, qty, price, fee))
            pending = None
        fast_sum = fast_sum + close - (closes[i - FAST] if i >= FAST else 0.0)
        slow_sum = slow_sum + close - (closes[i - SLOW] if i >= SLOW else 0.0)
        if i + 1 < SLOW:
            continue
        fast, slow = fast_sum / FAST, slow_sum / SLOW
        if i + 1 > SLOW:
            if prev_fast <= prev_slow and fast > slow and held == 0:
                pending = ("buy", QUANTITY)
            elif prev_fast >= prev_slow and fast < slow and held > 0:
                pending = ("sell", held)
            orders += pending is not None
        prev_fast, prev_slow = fast, slow
    last_close = Decimal(text["close"].iloc[-1]).quantize(tick)
    return Reference(fills, orders, cash + held * last_close)


def grekko_command() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Both files at once, one process each."""
    tmp = tmp_path_factory.mktemp("shared")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")}
    processes = {}
    for name in FILES:
        out = tmp / f"{name}.json"
        args = [
            *grekko_command(),
            "backtest",
            "--no-progress",
            "--data-dir",
            str(tmp / "data"),
            "--data",
            str(DATA / name),
            "--strategy",
            "sma_cross",
            "--param",
            f"fast={FAST}",
            "--param",
            f"slow={SLOW}",
            "--quantity",
            str(QUANTITY),
            "--fee",
            str(FEE),
            "--cash",
            str(CASH),
            "--json-out",
            str(out),
        ]
        processes[name] = (subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env), out)
    results = {}
    for name, (process, out) in processes.items():
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results[name] = json.loads(out.read_text())
    return results


@pytest.mark.parametrize("name", FILES)
def test_fills_and_final_equity_equal_an_independent_loop(
    cli_runs: dict[str, dict[str, object]], name: str
) -> None:
    payload = cli_runs[name]
    expected = reference(DATA / name)
    got = [
        Fill(f["ts"], f["side"], Decimal(f["qty"]), Decimal(f["price"]), Decimal(f["fee"]))
        for f in payload["fills"]  # type: ignore[attr-defined]
    ]
    assert len(expected.fills) > 20  # the comparison means something
    assert len(got) == len(expected.fills)
    for mine, theirs in zip(got, expected.fills, strict=True):
        assert mine == theirs
    assert len(payload["orders"]) == expected.orders  # type: ignore[arg-type]
    assert Decimal(str(payload["final_equity"])) == expected.final_equity
    assert payload["orders_denied"] == 0
