"""`grekko ingest` end to end: a real process, ccxt talking to the local recorded Coinbase server,
replayed files and the bundled news, all through the pipeline; the JSON summary tells what came out."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from grekko.adapters.files.bars import bundled_files
from recorded_exchange import RecordedExchange, load_fixture

pytestmark = pytest.mark.slow


def grekko_command() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


async def ingest(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        *grekko_command(),
        "ingest",
        "--data-dir",
        str(data_dir),
        "--no-view",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    summary: dict[str, Any] = json.loads(out)
    return summary


def stream(summary: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(s for s in summary["streams"] if s["stream_id"].startswith(prefix))


@pytest.mark.asyncio
async def test_live_coinbase_trades_and_book_through_the_pipeline(tmp_path: Path) -> None:
    recorded_trades = load_fixture("http_ticker.json")["trades"]
    async with RecordedExchange() as server:
        summary = await ingest(
            tmp_path,
            "--exchange", "coinbase", "--market", "BTC/USD",
            "--channel", "trades", "--rest",
            "--api-url", f"rest={server.rest_url}",
            "--duration", "4",
            env={"GREKKO_INGEST__STALE_AFTER_S": "0"},  # the recording is from April 2026
        )  # fmt: skip
        assert server.seen("/products/BTC-USD/ticker"), "ccxt never reached the recorded server"

    trades = stream(summary, "coinbase.BTC/USD.trades")
    assert trades["published"] == len(recorded_trades) == 3
    assert trades["quarantined"] == 0
    assert summary["source_failures"] == 0


@pytest.mark.asyncio
async def test_old_trades_from_a_live_feed_are_quarantined_as_stale(tmp_path: Path) -> None:
    async with RecordedExchange() as server:
        summary = await ingest(
            tmp_path,
            "--exchange", "coinbase", "--market", "BTC/USD", "--channel", "trades", "--rest",
            "--api-url", f"rest={server.rest_url}", "--duration", "3",
        )  # fmt: skip
    trades = stream(summary, "coinbase.BTC/USD.trades")
    assert trades["published"] == 0
    assert trades["quarantined_by_reason"] == {"stale": 3}
    assert summary["quarantined_total"] == 3


@pytest.mark.asyncio
async def test_websocket_book_reaches_the_book_manager(tmp_path: Path) -> None:
    async with RecordedExchange() as server:
        summary = await ingest(
            tmp_path,
            "--exchange", "coinbase", "--market", "BTC/USD", "--channel", "book",
            "--api-url", f"rest={server.rest_url}", "--ws-url", server.ws_url,
            "--duration", "4",
            env={"GREKKO_INGEST__STALE_AFTER_S": "0"},
        )  # fmt: skip
    book = stream(summary, "coinbase.BTC/USD.book")
    assert book["published"] >= 2  # the snapshot, then the book after the recorded update
    assert summary["books"]["snapshots"] == book["published"]
    assert summary["books"]["live"] == 1


@pytest.mark.asyncio
async def test_replayed_files_and_bundled_news(tmp_path: Path) -> None:
    bars = next(path for path in bundled_files() if "BTC" in path.name)
    summary = await ingest(tmp_path, "--replay", str(bars), "--news", "--venue", "binance")

    replay = stream(summary, "replay1.")
    assert replay["received"] == replay["published"] > 9000
    assert replay["lag_p50_ms"] is None  # old data: its age is not a lag
    indicators = summary["indicators"]["BTC/USDT@binance"]
    assert indicators["sma"] is not None
    assert indicators["bb_lower"] < indicators["bb_middle"] < indicators["bb_upper"]
    assert summary["news"]["published"] + summary["news"]["rejected"] == 270
    assert summary["news_stored"] == summary["news"]["published"]
    assert stream(summary, "news")["published"] == summary["news"]["published"]

    again = await ingest(tmp_path, "--news")
    assert again["news"]["duplicates"] == summary["news"]["published"]  # stored, so seen before
    assert again["news"]["published"] == 0


@pytest.mark.asyncio
async def test_bars_of_a_live_feed_are_recorded_in_the_candle_store(tmp_path: Path) -> None:
    trades = load_fixture("http_ticker.json")["trades"]
    minutes = {t["time"][:16] for t in trades}  # the recorded trades fall into these 1m bars
    async with RecordedExchange() as server:
        summary = await ingest(
            tmp_path,
            "--exchange", "coinbase", "--market", "BTC/USD", "--channel", "trades", "--rest",
            "--api-url", f"rest={server.rest_url}", "--duration", "3",
            env={"GREKKO_INGEST__STALE_AFTER_S": "0"},
        )  # fmt: skip
    assert summary["candles_recorded"] == len(minutes)
    process = await asyncio.create_subprocess_exec(
        *grekko_command(), "data", "show", "--symbol", "BTC/USD@coinbase", "--timeframe", "1m",
        "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "68923.67" in out.decode() or "68,923.67" in out.decode()
