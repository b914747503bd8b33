"""Wiring for `grekko data`: the candle store and venue history, behind plain functions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from grekko.adapters.files.bars import BarArrays, load_bars
from grekko.core.errors import VenueError
from grekko.domain.raw import RawBar
from grekko.ports.candles import CandleStore
from grekko.settings import Settings


def open_candle_store(settings: Settings) -> CandleStore:
    """Candles live in the event store's database (settings.database_url), migrated on open."""
    from grekko.adapters.sql.candle_store import SqlCandleStore

    return SqlCandleStore(settings.database_url)


def load_bar_file(path: Path, symbol: str | None = None) -> BarArrays:
    """A validated bar file (CSV, CSV.gz, Parquet) as columns; see grekko.adapters.files.bars."""
    return load_bars(path, symbol=symbol)


def open_history_exchange(exchange_id: str, api_urls: Mapping[str, str] | None = None) -> Any:
    """A ccxt exchange for public history; use it as `async with`. api_urls: tests, mirrors."""
    from grekko.adapters.ccxt.exchange import open_exchange

    return open_exchange(exchange_id, api_urls=api_urls)


async def ohlcv_history(
    exchange: Any, symbol: str, timeframe: str, since_ms: int, **options: Any
) -> AsyncIterator[list[RawBar]]:
    """Pages of RawBar, oldest first (grekko.adapters.ccxt.history.fetch_ohlcv_history).

    ccxt's own errors (network, rate limit, unknown symbol) become VenueError, so the CLI
    reports them as a message with exit code 2 instead of a traceback.
    """
    import ccxt

    from grekko.adapters.ccxt.history import fetch_ohlcv_history

    pages = fetch_ohlcv_history(exchange, symbol, timeframe, since_ms, **options)
    try:
        async for page in pages:
            yield page
    except ccxt.BaseError as exc:
        raise VenueError(f"{exchange.id}: {type(exc).__name__}: {exc}") from exc
