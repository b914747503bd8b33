"""Historical OHLCV from any ccxt exchange, paged forward in time, as raw bars.

Paging asks fetch_ohlcv for `page_limit` bars from a cursor and moves the cursor to one bar
after the newest row returned, so it always moves forward. It stops at `until_ms` (exclusive)
or now, or when the venue has no more (rows at or after the cursor, none of them closed).
Only closed bars are yielded: the still-open current candle would be stored with values that
are about to change. Rows are deduplicated by open time across pages, kept in time order.

An empty page does not end the history at once: windowed venues (Coinbase answers the window
[since, since + limit bars)) return nothing across an exchange outage or before a market
listed. The cursor skips one window forward, up to `MAX_EMPTY_PAGES` times in a row (rows
only from before the cursor, from a venue that ignores `since`, count as an empty page).

Errors propagate: a one-shot download should stop and say why (the CLI turns ccxt errors
into a message), unlike the live feeds in source.py which must keep going.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from grekko.adapters.ccxt.payloads import bar_record, bar_ts
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar

__all__ = ["MAX_EMPTY_PAGES", "fetch_ohlcv_history"]

MAX_EMPTY_PAGES = 3


def _check(
    exchange: Any, timeframe: str, since_ms: int, until_ms: int | None, page_limit: int
) -> int:
    if not exchange.has.get("fetchOHLCV"):
        raise ConfigError(f"{exchange.id} has no OHLCV history in ccxt (fetchOHLCV)")
    timeframes = getattr(exchange, "timeframes", None) or {}
    if timeframe not in timeframes:
        raise ConfigError(
            f"{exchange.id} has no timeframe {timeframe!r}; it has: {', '.join(timeframes) or 'none'}"
        )
    if page_limit < 1:
        raise ConfigError(f"page_limit must be >= 1, got {page_limit}")
    if since_ms < 0 or (until_ms is not None and until_ms <= since_ms):
        raise ConfigError(f"need 0 <= since_ms < until_ms, got {since_ms} and {until_ms}")
    return int(exchange.parse_timeframe(timeframe)) * 1000


async def fetch_ohlcv_history(
    exchange: Any,
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int | None = None,
    *,
    page_limit: int = 300,
    on_page: Callable[[int, int], None] | None = None,
) -> AsyncIterator[list[RawBar]]:
    """Pages of closed bars with since_ms <= open time < until_ms (default: now), oldest first.

    on_page(rows_so_far, last_ts_ms) runs as each non-empty page is handed over, before it is
    yielded, so a progress bar is complete even when the caller stops after the last page.
    """
    step_ms = _check(exchange, timeframe, since_ms, until_ms, page_limit)
    interval_s = step_ms // 1000
    venue = str(exchange.id)
    cursor, rows_so_far, empty_pages = since_ms, 0, 0
    while True:
        now_ms = int(exchange.milliseconds())
        end_ms = now_ms if until_ms is None else min(until_ms, now_ms)
        if cursor >= end_ms:
            return
        rows = await exchange.fetch_ohlcv(symbol, timeframe, since=cursor, limit=page_limit)
        page = _page(venue, symbol, rows, (cursor, end_ms, now_ms), step_ms, interval_s)
        stamps = [
            ts for ts in map(bar_ts, rows if isinstance(rows, list) else []) if ts is not None
        ]
        if page:
            empty_pages = 0
            rows_so_far += len(page)
            last_ts = int(page[-1].ts)  # type: ignore[call-overload]
            if on_page is not None:
                on_page(rows_so_far, last_ts)
            yield page
            cursor = last_ts + step_ms
        elif stamps and max(stamps) >= cursor:
            return  # the venue returned rows but none closed yet in range: history is complete
        else:
            empty_pages += 1
            if empty_pages > MAX_EMPTY_PAGES:
                return
            cursor += page_limit * step_ms


def _page(
    venue: str,
    symbol: str,
    rows: object,
    window: tuple[int, int, int],
    step_ms: int,
    interval_s: int,
) -> list[RawBar]:
    """Rows opened in [cursor, end) and closed by now, one per open time, in time order."""
    cursor, end_ms, now_ms = window
    by_ts: dict[int, RawBar] = {}
    for row in rows if isinstance(rows, list) else []:
        ts = bar_ts(row)
        if ts is None or not cursor <= ts < end_ms or ts + step_ms > now_ms:
            continue
        record = bar_record(venue, symbol, row, interval_s)
        if record is not None:
            by_ts[ts] = record
    return [by_ts[ts] for ts in sorted(by_ts)]
