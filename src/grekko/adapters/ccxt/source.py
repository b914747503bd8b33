"""Live market data from any ccxt exchange as raw records, by REST polling or WebSocket.

Each method is an endless async iterator of raw records (grekko.domain.raw) for one symbol;
stop it by closing it (`contextlib.aclosing`) or cancelling its task. `venue` is the exchange
id and `symbol` ccxt's unified symbol (BTC/USD). Values are copied from ccxt's unified
structures without checks: the ingest pipeline normalizes and validates.

Polling yields only what is new: trades by trade id (else timestamp/price/amount/side), quotes
and books when they differ from the last one yielded. Bars: each closed bar exactly once, with
the final values; the still-open newest candle is held back and re-read on every poll, then
emitted when it closes (or also on every change, with include_open=True: see BarTracker).

Failures never end a feed: a network error or rate limit (ccxt.NetworkError, which includes
RateLimitExceeded and a dropped WebSocket) or a bad response is logged as a warning and
retried after an exponential backoff (backoff_s doubling up to max_backoff_s; reset by the first
success). WebSocket watchers reconnect that way: ccxt reopens the socket on the next watch.
Only what retrying cannot fix raises ConfigError: an unknown symbol, a method the exchange does
not have, a request needing credentials.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async

from grekko.adapters.ccxt.payloads import (
    BarTracker,
    SeenSet,
    bar_record,
    book_record,
    quote_record,
    trade_key,
    trade_record,
)
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade

__all__ = ["CcxtMarketDataSource", "FeedStats"]

log = logging.getLogger("grekko.ccxt")

T = TypeVar("T")
R = TypeVar("R", RawQuote, RawBook)
_FATAL = (ccxt_async.NotSupported, ccxt_async.AuthenticationError, ccxt_async.PermissionDenied)


@dataclass
class FeedStats:
    """Counters over all feeds of one source: what came back, what failed, what was dropped."""

    responses: int = 0
    failures: int = 0
    records: int = 0
    rejected: int = 0


class CcxtMarketDataSource:
    """Raw trades, bars, quotes and books from one open ccxt exchange (see `open_exchange`)."""

    def __init__(
        self,
        exchange: Any,
        *,
        interval_s: float = 1.0,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        if interval_s < 0 or backoff_s < 0 or max_backoff_s < backoff_s:
            raise ConfigError("need interval_s >= 0 and 0 <= backoff_s <= max_backoff_s")
        self.exchange = exchange
        self.venue: str = str(exchange.id)
        self.interval_s = interval_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._clock_ms = clock_ms or exchange.milliseconds
        self.stats = FeedStats()

    # REST polling

    async def poll_trades(
        self, symbol: str, *, limit: int | None = None
    ) -> AsyncIterator[RawTrade]:
        """New public trades, oldest first, from fetch_trades every interval_s.

        A venue returns only its latest `limit` trades: more trades than that between two polls
        are missed, so poll faster than the market trades `limit` times.
        """
        self._require("fetchTrades", symbol, "poll_trades")
        seen = SeenSet()
        call = partial(self.exchange.fetch_trades, symbol, limit=limit)
        async for trades in self._responses("fetch_trades", symbol, call, self.interval_s):
            for record in self._new_trades(symbol, trades, seen):
                yield record

    async def poll_bars(
        self,
        symbol: str,
        timeframe: str = "1m",
        *,
        since_ms: int | None = None,
        limit: int | None = None,
        include_open: bool = False,
    ) -> AsyncIterator[RawBar]:
        """Closed bars from fetch_ohlcv every interval_s, starting at since_ms (default: recent)."""
        self._require("fetchOHLCV", symbol, "poll_bars")
        interval_s = self._timeframe_s(timeframe)
        tracker = BarTracker(interval_s * 1000, include_open=include_open)

        def call() -> Awaitable[Any]:
            since = since_ms if tracker.closed_upto is None else tracker.closed_upto
            fetched: Awaitable[Any] = self.exchange.fetch_ohlcv(symbol, timeframe, since, limit)
            return fetched

        async for rows in self._responses("fetch_ohlcv", symbol, call, self.interval_s):
            for record in self._bars(symbol, rows, tracker, interval_s):
                yield record

    async def poll_quotes(self, symbol: str) -> AsyncIterator[RawQuote]:
        """Best bid/ask from fetch_ticker every interval_s, whenever it changed."""
        self._require("fetchTicker", symbol, "poll_quotes")
        call = partial(self.exchange.fetch_ticker, symbol)
        responses = self._responses("fetch_ticker", symbol, call, self.interval_s)
        async for quote in self._changed(responses, partial(quote_record, self.venue, symbol)):
            yield quote

    async def poll_books(self, symbol: str, *, depth: int | None = None) -> AsyncIterator[RawBook]:
        """L2 snapshots from fetch_order_book every interval_s, whenever the book changed."""
        self._require("fetchOrderBook", symbol, "poll_books")
        call = partial(self.exchange.fetch_order_book, symbol, limit=depth)
        responses = self._responses("fetch_order_book", symbol, call, self.interval_s)
        convert = partial(book_record, self.venue, symbol, depth=depth)
        async for book in self._changed(responses, convert):
            yield book

    # WebSocket

    async def watch_trades(self, symbol: str) -> AsyncIterator[RawTrade]:
        """New public trades as the venue streams them (ccxt.pro watch_trades)."""
        self._require("watchTrades", symbol, "watch_trades")
        seen = SeenSet()
        call = partial(self.exchange.watch_trades, symbol)
        async for trades in self._responses("watch_trades", symbol, call, None):
            for record in self._new_trades(symbol, trades, seen):
                yield record

    async def watch_quotes(self, symbol: str) -> AsyncIterator[RawQuote]:
        """Best bid/ask from ccxt.pro watch_ticker, whenever it changed."""
        self._require("watchTicker", symbol, "watch_quotes")
        call = partial(self.exchange.watch_ticker, symbol)
        responses = self._responses("watch_ticker", symbol, call, None)
        async for quote in self._changed(responses, partial(quote_record, self.venue, symbol)):
            yield quote

    async def watch_bars(
        self, symbol: str, timeframe: str = "1m", *, include_open: bool = False
    ) -> AsyncIterator[RawBar]:
        """Closed bars (and open updates if asked) from ccxt.pro watch_ohlcv."""
        self._require("watchOHLCV", symbol, "watch_bars")
        interval_s = self._timeframe_s(timeframe)
        tracker = BarTracker(interval_s * 1000, include_open=include_open)
        call = partial(self.exchange.watch_ohlcv, symbol, timeframe)
        async for rows in self._responses("watch_ohlcv", symbol, call, None):
            for record in self._bars(symbol, rows, tracker, interval_s):
                yield record

    async def watch_books(self, symbol: str, *, depth: int | None = None) -> AsyncIterator[RawBook]:
        """A full L2 snapshot (top `depth` levels) after every update ccxt.pro applies."""
        self._require("watchOrderBook", symbol, "watch_books")
        call = partial(self.exchange.watch_order_book, symbol)
        async for book in self._responses("watch_order_book", symbol, call, None):
            record = book_record(self.venue, symbol, book, self._clock_ms(), depth)
            if record is None:
                self.stats.rejected += 1
                continue
            self.stats.records += 1
            yield record

    # shared

    def _require(self, capability: str, symbol: str, method: str) -> None:
        if not self.exchange.has.get(capability):
            raise ConfigError(
                f"{self.venue} has no {capability} in ccxt, so {method}({symbol!r}) cannot run; "
                "use the polling or WebSocket counterpart"
            )

    def _timeframe_s(self, timeframe: str) -> int:
        timeframes = getattr(self.exchange, "timeframes", None) or {}
        if timeframe not in timeframes:
            known = ", ".join(timeframes) or "none"
            raise ConfigError(f"{self.venue} has no timeframe {timeframe!r}; it has: {known}")
        return int(self.exchange.parse_timeframe(timeframe))

    async def _changed(
        self, responses: AsyncIterator[Any], convert: Callable[[Any, int], R | None]
    ) -> AsyncIterator[R]:
        """Records that differ from the last one yielded, the receive-time fallback ts aside."""
        last: R | None = None
        async for response in responses:
            key = convert(response, 0)
            if key is None:
                self.stats.rejected += 1
            elif key != last:
                last = key
                record = convert(response, self._clock_ms())
                if record is not None:
                    self.stats.records += 1
                    yield record

    def _new_trades(self, symbol: str, trades: object, seen: SeenSet) -> list[RawTrade]:
        if not isinstance(trades, list):
            self.stats.rejected += 1
            return []
        out: list[RawTrade] = []
        for trade in trades:
            key = trade_key(trade)
            record = trade_record(self.venue, symbol, trade)
            if key is None or record is None:
                self.stats.rejected += 1
            elif seen.add(key):
                out.append(record)
        self.stats.records += len(out)
        out.sort(key=_time_order)
        return out

    def _bars(
        self, symbol: str, rows: object, tracker: BarTracker, interval_s: int
    ) -> list[RawBar]:
        rejected = tracker.rejected
        out = [
            bar_record(self.venue, symbol, row, interval_s)
            for row in tracker.update(rows, self._clock_ms())
        ]
        self.stats.rejected += tracker.rejected - rejected
        records = [r for r in out if r is not None]
        self.stats.records += len(records)
        return records

    async def _responses(
        self,
        what: str,
        symbol: str,
        call: Callable[[], Awaitable[T]],
        interval_s: float | None,
    ) -> AsyncIterator[T]:
        """Successful responses of `call`, forever; failures are logged and backed off."""
        failures = 0
        while True:
            try:
                response = await call()
            except Exception as exc:
                await self._check_fatal(exc, what, symbol)
                failures += 1
                self.stats.failures += 1
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** min(failures - 1, 30))
                log.warning(
                    "%s %s %s failed (%s: %s); retry %d in %.1f s",
                    self.venue,
                    what,
                    symbol,
                    type(exc).__name__,
                    _short(exc),
                    failures,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            self.stats.responses += 1
            yield response
            if interval_s is not None:
                await asyncio.sleep(interval_s)

    async def _check_fatal(self, exc: Exception, what: str, symbol: str) -> None:
        """Raise ConfigError for what retrying cannot fix; an unknown symbol first reloads markets.

        An empty market list (the venue answered garbage at load time) makes every symbol
        unknown, so markets are reloaded and the symbol only rejected once the list has markets.
        """
        if isinstance(exc, _FATAL):
            raise ConfigError(f"{self.venue} {what} {symbol}: {_short(exc)}") from exc
        if not isinstance(exc, ccxt_async.BadSymbol):
            return
        markets = self.exchange.markets or {}
        if not markets:
            try:
                markets = await self.exchange.load_markets(True)
            except Exception:
                return
        if markets and symbol not in markets:
            base = symbol.split("/", maxsplit=1)[0]
            similar = sorted(s for s in markets if s.split("/", maxsplit=1)[0] == base)[:8]
            hint = f"; similar: {', '.join(similar)}" if similar else ""
            raise ConfigError(
                f"{self.venue} has no market {symbol!r} (ccxt unified symbols, BASE/QUOTE){hint}"
            ) from exc


def _time_order(record: RawTrade) -> tuple[int, int]:
    """Oldest first; a record without an integer timestamp keeps its place after the others."""
    ts = record.ts
    return (0, ts) if isinstance(ts, int) and not isinstance(ts, bool) else (1, 0)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
