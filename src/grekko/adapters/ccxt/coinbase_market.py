"""Coinbase market data for the running platform: closed candles and the best bid/ask of the
listed products, polled through the linked client (its public market endpoints).

A poll per product reads the candles since the last closed one (on the first poll, the last
`history` of them) and the top of the book. Candles go through BarTracker, so every closed
candle is delivered exactly once with its final values and the open one waits until it closes;
the quote is delivered whenever the book's top or its time changed. Records are raw (the ingest
pipeline's normalizer and validator judge them) and amounts stay Decimal until then.

Polling runs on its own thread: a failed poll (no answer, a 5xx, a bad payload) is reported to
`failed` and retried after a backoff that doubles from the poll interval up to `max_backoff_s`;
the first successful poll resets it. Nothing a poll raises ends the thread; `stop()` does.
Candle bookkeeping uses the wall clock, the exchange's time, not the kernel's (a replay's).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from grekko.adapters.ccxt.coinbase_records import Book, CoinbaseError
from grekko.adapters.ccxt.payloads import BarTracker, bar_record
from grekko.adapters.ccxt.trading import CoinbaseTrading
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawMarketData, RawQuote

__all__ = ["CoinbaseMarketPoller", "book_quote"]

log = logging.getLogger(__name__)

TIMEFRAMES_S = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600}
Deliver = Callable[[str, list[RawMarketData]], None]
Failed = Callable[[str, Exception], None]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def book_quote(venue: str, book: Book, received_ms: int) -> RawQuote | None:
    """The top of a book as a quote; None when a side is empty (nothing to quote)."""
    if not book.bids or not book.asks:
        return None
    (bid, bid_size), (ask, ask_size) = book.bids[0], book.asks[0]
    ts = received_ms if book.ts_ms is None else book.ts_ms
    return RawQuote(venue, book.symbol, bid, ask, bid_size, ask_size, ts)


@dataclass
class _Stream:
    bars: BarTracker
    last_quote: RawQuote | None = None


@dataclass
class CoinbaseMarketPoller:
    """Polls every added symbol each `interval_s` on its thread, between start() and stop()."""

    client: CoinbaseTrading  # swapped when Coinbase is linked again with another key
    interval_s: float
    deliver: Deliver
    failed: Failed
    timeframe: str = "1m"
    history: int = 60  # candles read on a symbol's first poll
    max_backoff_s: float = 60.0
    venue: str = "coinbase"
    clock_ms: Callable[[], int] = _wall_ms
    _streams: dict[str, _Stream] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)  # the current run's
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if self.timeframe not in TIMEFRAMES_S:
            raise ConfigError(f"no Coinbase timeframe {self.timeframe!r}; one of {TIMEFRAMES_S}")
        if not self.interval_s > 0 or self.max_backoff_s < self.interval_s:
            raise ConfigError("need interval_s > 0 and max_backoff_s >= interval_s")

    @property
    def symbols(self) -> list[str]:
        with self._lock:
            return sorted(self._streams)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def add(self, symbol: str) -> bool:
        """Poll `symbol` from the next round on; False if it already is."""
        with self._lock:
            if symbol in self._streams:
                return False
            interval_ms = TIMEFRAMES_S[self.timeframe] * 1000
            self._streams[symbol] = _Stream(BarTracker(interval_ms))
            return True

    def start(self) -> None:
        """Poll on a new thread (again, after stop: the symbols and their last bars are kept)."""
        if self._thread is not None and not self._stop.is_set():
            return
        self.stop()
        stop = self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(stop,), name="coinbase-market", daemon=True
        )
        self._thread.start()

    def halt(self) -> None:
        """Stop polling without waiting for a call in flight; what it returns is not delivered."""
        self._stop.set()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop polling; waits up to timeout_s for a call in flight (the client's timeout)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def poll_once(self, stop: threading.Event | None = None) -> bool:
        """One round over every symbol; True if all of them were read."""
        stop = stop or self._stop
        ok = True
        for symbol in self.symbols:
            if stop.is_set():
                break
            try:
                self._poll(symbol, stop)
            except (CoinbaseError, ConfigError) as exc:
                ok = False
                log.warning("coinbase market data for %s failed: %s", symbol, exc)
                self.failed(symbol, exc)
            except Exception as exc:  # a bug or an odd payload must not end the feed
                ok = False
                log.exception("coinbase market data for %s failed", symbol)
                self.failed(symbol, exc)
        return ok

    def _run(self, stop: threading.Event) -> None:
        failures = 0
        delay = 0.0
        while not stop.wait(delay):
            if self.poll_once(stop):
                failures, delay = 0, self.interval_s
            else:
                failures += 1
                delay = min(self.max_backoff_s, self.interval_s * 2 ** min(failures, 30))

    def _poll(self, symbol: str, stop: threading.Event) -> None:
        with self._lock:
            stream = self._streams[symbol]
        client = self.client
        since = stream.bars.closed_upto
        limit = self.history if since is None else None
        candles = client.candles(symbol, self.timeframe, since_ms=since, limit=limit)
        rows: Sequence[list[object]] = [
            [c.ts_ms, c.open, c.high, c.low, c.close, c.volume] for c in candles
        ]
        if stop.is_set():  # halted meanwhile: these candles are read again on the next run
            return
        interval_s = TIMEFRAMES_S[self.timeframe]
        bars: list[RawMarketData] = [
            bar
            for row in stream.bars.update(rows, self.clock_ms())
            if (bar := bar_record(self.venue, symbol, row, interval_s)) is not None
        ]
        if bars:
            self.deliver(symbol, bars)
        quote = book_quote(self.venue, client.order_book(symbol, 1), self.clock_ms())
        if quote is not None and quote != stream.last_quote and not stop.is_set():
            stream.last_quote = quote
            self.deliver(symbol, [quote])
