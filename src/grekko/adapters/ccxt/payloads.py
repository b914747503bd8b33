"""ccxt's unified structures (trade dicts, OHLCV rows, tickers, order books) copied into raw records.

Nothing here validates prices or sizes: the ingest pipeline's normalizer does, and quarantines
with a reason. What this module does decide is whether an item can be *tracked* at all (a trade
needs some identity to be deduplicated, a bar an integer open time to be ordered): items that
cannot are returned as None and counted by the caller, never raised, because one odd item in a
venue's response must not stop the feed. Every function here accepts any object.

Order-book levels are copied out of ccxt's book, because ccxt.pro mutates its books in place as
updates arrive and a record must not change after it was handed over.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade

__all__ = [
    "BarTracker",
    "SeenSet",
    "bar_record",
    "bar_ts",
    "book_levels",
    "book_record",
    "quote_record",
    "trade_key",
    "trade_record",
]


def _symbol(item: Mapping[str, Any], requested: str) -> object:
    symbol = item.get("symbol")
    return symbol if isinstance(symbol, str) and symbol else requested


def trade_key(trade: object) -> Hashable | None:
    """The venue's trade id, else (timestamp, price, amount, side); None if neither is usable."""
    if not isinstance(trade, Mapping):
        return None
    trade_id = trade.get("id")
    if isinstance(trade_id, str | int) and not isinstance(trade_id, bool) and trade_id != "":
        return ("id", str(trade_id))
    parts = tuple(trade.get(k) for k in ("timestamp", "price", "amount", "side"))
    if parts[0] is None:
        return None
    try:
        hash(parts)
    except TypeError:
        return None
    return ("fields", *parts)


def trade_record(venue: str, symbol: str, trade: object) -> RawTrade | None:
    if not isinstance(trade, Mapping):
        return None
    trade_id = trade.get("id")
    return RawTrade(
        venue=venue,
        symbol=_symbol(trade, symbol),
        price=trade.get("price"),
        amount=trade.get("amount"),
        side=trade.get("side"),
        ts=trade.get("timestamp"),
        trade_id="" if trade_id is None else trade_id,
    )


def bar_ts(row: object) -> int | None:
    """A row's open time in ms if it is an integer (ccxt's OHLCV rows are [ts, o, h, l, c, v])."""
    if not isinstance(row, Sequence) or isinstance(row, str | bytes) or not row:
        return None
    ts = row[0]
    if isinstance(ts, bool):
        return None
    if isinstance(ts, float) and math.isfinite(ts) and ts.is_integer():
        return int(ts)
    return ts if isinstance(ts, int) else None


def bar_record(venue: str, symbol: str, row: object, interval_s: int) -> RawBar | None:
    ts = bar_ts(row)
    if ts is None or not isinstance(row, Sequence):
        return None
    values = [row[i] if i < len(row) else None for i in range(1, 6)]
    return RawBar(
        venue=venue,
        symbol=symbol,
        ts=ts,
        open=values[0],
        high=values[1],
        low=values[2],
        close=values[3],
        volume=values[4],
        interval_s=interval_s,
    )


def quote_record(venue: str, symbol: str, ticker: object, received_ms: int) -> RawQuote | None:
    """Top of book from a ticker; ts is the venue's, or the receive time when it sends none."""
    if not isinstance(ticker, Mapping):
        return None
    ts = ticker.get("timestamp")
    return RawQuote(
        venue=venue,
        symbol=_symbol(ticker, symbol),
        bid=ticker.get("bid"),
        ask=ticker.get("ask"),
        bid_size=ticker.get("bidVolume"),
        ask_size=ticker.get("askVolume"),
        ts=received_ms if ts is None else ts,
    )


def book_levels(side: object, depth: int | None) -> object:
    """(price, size) tuples, best first; a side or level that is not a sequence is kept as is."""
    if not isinstance(side, Sequence) or isinstance(side, str | bytes):
        return side
    levels = side if depth is None else side[:depth]
    out: list[object] = []
    for level in levels:
        if isinstance(level, Sequence) and not isinstance(level, str | bytes) and len(level) >= 2:
            out.append((level[0], level[1]))
        else:
            out.append(level)
    return out


def book_record(
    venue: str, symbol: str, book: object, received_ms: int, depth: int | None = None
) -> RawBook | None:
    if not isinstance(book, Mapping):
        return None
    ts = book.get("timestamp")
    return RawBook(
        venue=venue,
        symbol=_symbol(book, symbol),
        bids=book_levels(book.get("bids"), depth),
        asks=book_levels(book.get("asks"), depth),
        ts=received_ms if ts is None else ts,
        sequence=book.get("nonce"),
    )


class SeenSet:
    """The last `capacity` keys seen, so a long-running feed deduplicates in bounded memory."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._keys: OrderedDict[Hashable, None] = OrderedDict()
        self._capacity = capacity

    def add(self, key: Hashable) -> bool:
        """True if the key is new (and now remembered)."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return True


class BarTracker:
    """Which OHLCV rows to emit: every closed bar exactly once, with its last values.

    A venue's newest candle is still open and changes on every poll or message. It is held
    back until it closes (a newer candle arrives, or the clock passes its end) and then emitted
    once with the latest values seen. With include_open=True the open candle is also emitted
    each time its values change (same ts, updated values), for live charts; consumers then
    replace the bar with the same ts. Rows at or before the last closed bar are ignored.
    """

    def __init__(self, interval_ms: int, *, include_open: bool = False) -> None:
        self.interval_ms = interval_ms
        self.include_open = include_open
        self.closed_upto: int | None = None
        self._pending: dict[int, list[object]] = {}
        self._open_sent: dict[int, tuple[object, ...]] = {}
        self.rejected = 0

    def update(self, rows: object, now_ms: int) -> list[list[object]]:
        if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
            self.rejected += 1
            return []
        for row in rows:
            ts = bar_ts(row)
            if ts is None:
                self.rejected += 1
                continue
            if self.closed_upto is None or ts > self.closed_upto:
                self._pending[ts] = [ts, *list(row)[1:]]
        return self._emit(now_ms)

    def _emit(self, now_ms: int) -> list[list[object]]:
        out: list[list[object]] = []
        newest = max(self._pending, default=0)
        for ts in sorted(self._pending):
            row = self._pending[ts]
            if ts < newest or ts + self.interval_ms <= now_ms:
                out.append(self._pending.pop(ts))
                self._open_sent.pop(ts, None)
                self.closed_upto = ts
            elif self.include_open and self._open_sent.get(ts) != tuple(row):
                self._open_sent[ts] = tuple(row)
                out.append(list(row))
        return out
