"""fetch_ohlcv_history paging through real ccxt over the recorded Coinbase candles.

The server answers each candles request with the recorded rows inside the request's
[start, end) window, so the pages seen here are exactly what Coinbase's windowed API would give.
"""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from grekko.adapters.ccxt import fetch_ohlcv_history
from grekko.adapters.ccxt.history import MAX_EMPTY_PAGES
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar
from recorded_exchange import Fault, load_fixture, recorded_coinbase

HOUR_MS = 3_600_000
ROWS = sorted(load_fixture("http_candles.json")["candles"], key=lambda r: int(r["start"]))
TS = [int(r["start"]) * 1000 for r in ROWS]


def expected_bar(row: dict[str, str]) -> RawBar:
    return RawBar(
        venue="coinbase",
        symbol="BTC/USD",
        ts=int(row["start"]) * 1000,
        open=float(row["open"]),
        high=float(row["high"]),
        low=float(row["low"]),
        close=float(row["close"]),
        volume=float(row["volume"]),
        interval_s=3600,
    )


async def collect(exchange: Any, **kwargs: Any) -> tuple[list[list[RawBar]], list[tuple[int, int]]]:
    progress: list[tuple[int, int]] = []
    pages = [
        page
        async for page in fetch_ohlcv_history(
            exchange, "BTC/USD", "1h", on_page=lambda n, ts: progress.append((n, ts)), **kwargs
        )
    ]
    return pages, progress


@pytest.mark.asyncio
async def test_one_bar_pages_walk_the_recorded_candles_and_report_progress() -> None:
    async with recorded_coinbase() as (server, exchange):
        pages, progress = await collect(
            exchange, since_ms=TS[0], until_ms=TS[-1] + HOUR_MS, page_limit=1
        )
        windows = [(r.query["start"], r.query["end"]) for r in server.seen("/candles")]
    assert pages == [[expected_bar(ROWS[0])], [expected_bar(ROWS[1])]]
    assert progress == [(1, TS[0]), (2, TS[1])]
    assert windows == [
        (str(TS[0] // 1000), str(TS[0] // 1000 + 3600)),
        (str(TS[1] // 1000), str(TS[1] // 1000 + 3600)),
    ]


@pytest.mark.asyncio
async def test_one_large_page_holds_every_recorded_candle_in_time_order() -> None:
    async with recorded_coinbase() as (server, exchange):
        pages, progress = await collect(exchange, since_ms=TS[0], until_ms=TS[-1] + HOUR_MS)
        requests = len(server.seen("/candles"))
    assert pages == [[expected_bar(r) for r in ROWS]]
    assert progress == [(2, TS[1])]
    assert requests == 1


@pytest.mark.asyncio
async def test_until_is_exclusive() -> None:
    async with recorded_coinbase() as (_server, exchange):
        pages, _ = await collect(exchange, since_ms=TS[0], until_ms=TS[1])
    assert pages == [[expected_bar(ROWS[0])]]


@pytest.mark.asyncio
async def test_empty_windows_before_the_data_are_skipped() -> None:
    since = TS[0] - 5 * HOUR_MS
    async with recorded_coinbase() as (server, exchange):
        pages, progress = await collect(
            exchange, since_ms=since, until_ms=TS[-1] + HOUR_MS, page_limit=2
        )
        starts = [int(r.query["start"]) * 1000 for r in server.seen("/candles")]
    assert [bar for page in pages for bar in page] == [expected_bar(r) for r in ROWS]
    assert progress[-1] == (2, TS[1])
    assert starts[:3] == [since, since + 2 * HOUR_MS, since + 4 * HOUR_MS]


@pytest.mark.asyncio
async def test_without_until_paging_stops_after_the_data_ends() -> None:
    async with recorded_coinbase() as (server, exchange):
        pages, _ = await collect(exchange, since_ms=TS[0], page_limit=1)
        requests = len(server.seen("/candles"))
    assert [bar for page in pages for bar in page] == [expected_bar(r) for r in ROWS]
    assert requests == len(ROWS) + MAX_EMPTY_PAGES + 1


@pytest.mark.asyncio
async def test_a_garbage_page_stops_the_download_with_the_reason() -> None:
    async with recorded_coinbase() as (server, exchange):
        server.fail_next("/candles", Fault(200, '{"candles": [{"start": "17121'))
        with pytest.raises(ccxt.BadResponse, match="malformed JSON"):
            await collect(exchange, since_ms=TS[0])


@pytest.mark.asyncio
async def test_bad_arguments_are_config_errors_before_any_request() -> None:
    async with recorded_coinbase() as (server, exchange):
        with pytest.raises(ConfigError, match="timeframe"):
            await anext(fetch_ohlcv_history(exchange, "BTC/USD", "2m", TS[0]))
        with pytest.raises(ConfigError, match="page_limit"):
            await anext(fetch_ohlcv_history(exchange, "BTC/USD", "1h", TS[0], page_limit=0))
        with pytest.raises(ConfigError, match="since_ms < until_ms"):
            await anext(fetch_ohlcv_history(exchange, "BTC/USD", "1h", TS[1], TS[0]))
        assert server.requests == []
