"""Level-2 order book: price -> size per side, kept sorted so the best levels cost O(1).

Prices and sizes are floats on purpose: a book is a market observation, rebuilt from venue text
(prices arrive as decimal strings, and the same string always parses to the same float, so a
price is a stable dict key). Each side keeps a dict for sizes and a sorted key list maintained
with bisect; bid keys are stored negated so index 0 is the best level on both sides.

The book itself knows nothing about venue sequencing: `apply_diff` is atomic (a diff that would
leave the book crossed is rolled back and refused), and sequence numbers are simply recorded.
Which diff may follow which is the business of the engines' sequencer.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from enum import StrEnum

import msgspec

from grekko.core.errors import DataError

BookLevel = tuple[float, float]  # (price, size)
BookLevels = tuple[BookLevel, ...]  # best first


class BookSide(StrEnum):
    BID = "bid"
    ASK = "ask"


class CrossedBook(DataError):
    """A snapshot or diff that would leave the best bid at or above the best ask."""


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    """The top of a book as published on `data.books.<instrument_id>`."""

    instrument_id: str
    ts: int  # ns UTC of the last applied venue message
    sequence: int  # venue update id of the last applied message
    bids: BookLevels
    asks: BookLevels

    def mid(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2.0


class DepthSnapshot(msgspec.Struct, frozen=True, gc=False):
    """A full book from the venue (REST snapshot or an in-stream snapshot message)."""

    instrument_id: str
    bids: BookLevels
    asks: BookLevels
    sequence: int  # Binance lastUpdateId, Bybit u
    ts: int


class DepthDiff(msgspec.Struct, frozen=True, gc=False):
    """Absolute level updates (size 0 removes a level) covering update ids first_id..last_id.

    prev_id is the venue's "last id of the previous message" (Binance futures `pu`); None when
    the protocol does not send it (Binance spot, Bybit).
    """

    instrument_id: str
    bids: BookLevels
    asks: BookLevels
    first_id: int
    last_id: int
    prev_id: int | None
    ts: int


BookMessage = DepthSnapshot | DepthDiff


def check_level(price: float, size: float) -> None:
    """Refuse what no venue can mean: NaN/inf, a price <= 0, a negative size."""
    if not math.isfinite(price) or price <= 0.0:
        raise DataError(f"book level price must be a finite number > 0, got {price!r}")
    if not math.isfinite(size) or size < 0.0:
        raise DataError(f"book level size must be a finite number >= 0, got {size!r}")


def parse_levels(pairs: object, what: str) -> BookLevels:
    """Venue text pairs [["price", "size"], ...] as validated float levels, or DataError."""
    if not isinstance(pairs, list | tuple):
        raise DataError(f"{what}: levels must be a list of [price, size] pairs")
    out: list[BookLevel] = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) < 2:
            raise DataError(f"{what}: level {_short(pair)} is not a [price, size] pair")
        price, size = _number(pair[0], what), _number(pair[1], what)
        check_level(price, size)
        out.append((price, size))
    return tuple(out)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DataError(f"{what}: {_short(value)} is not a number")
    try:
        return float(value)
    except (ValueError, OverflowError):
        raise DataError(f"{what}: {_short(value)} is not a number") from None


def _short(value: object) -> str:
    """A bounded description of a payload value, even one whose repr fails (10**5000)."""
    try:
        text = repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to print>"
    return text if len(text) <= 60 else text[:60] + "..."


class OrderBook:
    __slots__ = ("_ask_keys", "_asks", "_bid_keys", "_bids", "instrument_id", "sequence", "ts")

    def __init__(self, instrument_id: str) -> None:
        self.instrument_id = instrument_id
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bid_keys: list[float] = []  # negated prices, ascending = best first
        self._ask_keys: list[float] = []  # prices, ascending = best first
        self.sequence = -1  # -1: no snapshot yet
        self.ts = 0

    # ---- updates -----------------------------------------------------------------------------
    def apply_snapshot(
        self, bids: Iterable[BookLevel], asks: Iterable[BookLevel], sequence: int, ts: int
    ) -> None:
        """Replace both sides; a snapshot with bad values or a crossed top leaves the book as it was."""
        new_bids = _side_dict(bids)
        new_asks = _side_dict(asks)
        if new_bids and new_asks and max(new_bids) >= min(new_asks):
            raise CrossedBook(
                f"{self.instrument_id}: snapshot {sequence} is crossed "
                f"(bid {max(new_bids)} >= ask {min(new_asks)})"
            )
        self._bids, self._asks = new_bids, new_asks
        self._bid_keys = sorted(-p for p in new_bids)
        self._ask_keys = sorted(new_asks)
        self.sequence, self.ts = sequence, ts

    def apply_delta(self, side: BookSide, price: float, size: float) -> None:
        """Set one level's absolute size; size 0 removes the level (a missing level is fine)."""
        check_level(price, size)
        self._set(side is BookSide.BID, price, size)

    def apply_diff(
        self, bids: Sequence[BookLevel], asks: Sequence[BookLevel], sequence: int, ts: int
    ) -> None:
        """Apply a venue diff as one unit: on bad values or a crossed result nothing changes."""
        for price, size in bids:
            check_level(price, size)
        for price, size in asks:
            check_level(price, size)
        undo: list[tuple[bool, float, float]] = []
        for price, size in bids:
            undo.append((True, price, self._bids.get(price, 0.0)))
            self._set(True, price, size)
        for price, size in asks:
            undo.append((False, price, self._asks.get(price, 0.0)))
            self._set(False, price, size)
        if self.is_crossed():
            bid, ask = self._bid_keys[0], self._ask_keys[0]
            for is_bid, price, size in reversed(undo):
                self._set(is_bid, price, size)
            raise CrossedBook(
                f"{self.instrument_id}: diff {sequence} would cross the book (bid {-bid} >= ask {ask})"
            )
        self.sequence, self.ts = sequence, ts

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()
        self.sequence, self.ts = -1, 0

    def _set(self, is_bid: bool, price: float, size: float) -> None:
        levels, keys, key = (
            (self._bids, self._bid_keys, -price) if is_bid else (self._asks, self._ask_keys, price)
        )
        if size == 0.0:
            if levels.pop(price, None) is not None:
                del keys[bisect_left(keys, key)]
            return
        if price not in levels:
            insort(keys, key)
        levels[price] = size

    # ---- queries -----------------------------------------------------------------------------
    def best_bid(self) -> BookLevel | None:
        if not self._bid_keys:
            return None
        price = -self._bid_keys[0]
        return price, self._bids[price]

    def best_ask(self) -> BookLevel | None:
        if not self._ask_keys:
            return None
        price = self._ask_keys[0]
        return price, self._asks[price]

    def spread(self) -> float | None:
        if not self._bid_keys or not self._ask_keys:
            return None
        return self._ask_keys[0] + self._bid_keys[0]

    def mid(self) -> float | None:
        if not self._bid_keys or not self._ask_keys:
            return None
        return (self._ask_keys[0] - self._bid_keys[0]) / 2.0

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask (crossed or locked)."""
        return bool(self._bid_keys and self._ask_keys) and -self._bid_keys[0] >= self._ask_keys[0]

    def size_at(self, side: BookSide, price: float) -> float:
        levels = self._bids if side is BookSide.BID else self._asks
        return levels.get(price, 0.0)

    def depth(self, side: BookSide) -> int:
        """How many price levels the side holds."""
        return len(self._bid_keys if side is BookSide.BID else self._ask_keys)

    def levels(self, side: BookSide, n: int | None = None) -> BookLevels:
        """The side's levels, best first; the best n of them when n is given."""
        if side is BookSide.BID:
            keys = self._bid_keys if n is None else self._bid_keys[: max(n, 0)]
            return tuple((-k, self._bids[-k]) for k in keys)
        keys = self._ask_keys if n is None else self._ask_keys[: max(n, 0)]
        return tuple((k, self._asks[k]) for k in keys)

    def top(self, n: int) -> tuple[BookLevels, BookLevels]:
        return self.levels(BookSide.BID, n), self.levels(BookSide.ASK, n)

    def volume_to(self, side: BookSide, limit_price: float) -> float:
        """Size resting at prices at least as good as limit_price (bids >= it, asks <= it)."""
        if side is BookSide.BID:
            end = bisect_right(self._bid_keys, -limit_price)
            return math.fsum(self._bids[-k] for k in self._bid_keys[:end])
        end = bisect_right(self._ask_keys, limit_price)
        return math.fsum(self._asks[k] for k in self._ask_keys[:end])

    def volume_within(self, band: float) -> tuple[float, float]:
        """(bid size, ask size) within `band` (a fraction: 0.01 = 1 %) of the mid; (0, 0) if one side is empty."""
        mid = self.mid()
        if mid is None or band < 0.0:
            return 0.0, 0.0
        return (
            self.volume_to(BookSide.BID, mid * (1.0 - band)),
            self.volume_to(BookSide.ASK, mid * (1.0 + band)),
        )

    def snapshot(self, depth: int) -> BookSnapshot:
        bids, asks = self.top(depth)
        return BookSnapshot(self.instrument_id, self.ts, self.sequence, bids, asks)


def _side_dict(levels: Iterable[BookLevel]) -> dict[float, float]:
    out: dict[float, float] = {}
    for price, size in levels:
        check_level(price, size)
        if size > 0.0:
            out[price] = size
        else:
            out.pop(price, None)
    return out
