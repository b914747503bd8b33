"""Normalizer: a source's raw record -> Bar / TradeTick / QuoteTick with unified symbol and UTC ns.

What it fixes: venue symbol spellings (BTC-USD, BTCUSDT -> BTC/USD, BTC/USDT), numbers given as
strings or Decimals (payloads carry them as strings to keep precision), integer token amounts in
base units (scaled by the token's decimals), and timestamps in s / ms / µs / ns or ISO 8601.
What it refuses (schema errors) raises `Rejected` with a `schema.<field>` reason; value checks
(positive prices, OHLC order, time order) belong to the validator.

A trade without an aggressor side (some dumps omit it) gets one by the tick rule: up-tick buy,
down-tick sell, unchanged repeats the last side.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

from grekko.core.errors import DataError
from grekko.core.ids import instrument_id
from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.enums import OrderSide
from grekko.domain.order_book import DepthSnapshot, parse_levels
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade
from grekko.domain.symbols import SymbolError, SymbolMapper
from grekko.engines.ingest.quarantine import Rejected

_BUY = OrderSide.BUY
_SELL = OrderSide.SELL
_SIDES: dict[object, OrderSide] = {
    "buy": _BUY, "sell": _SELL, "b": _BUY, "s": _SELL, "BUY": _BUY, "SELL": _SELL,
    "Buy": _BUY, "Sell": _SELL, "B": _BUY, "S": _SELL, "bid": _BUY, "ask": _SELL,
    _BUY: _BUY, _SELL: _SELL,
}  # fmt: skip
_MAX_NS = 2**63 - 1
_MAX_FLOAT = 1e100  # far above any price or base-unit amount; squares and sums stay finite


def number(value: object, field: str) -> float:
    """A finite float from a payload field, or `Rejected('schema.<field>')`."""
    kind = type(value)
    if kind is float:
        result: float = value  # type: ignore[assignment]
    elif kind is int:
        try:
            result = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise Rejected(f"schema.{field}", "number too large") from None
    elif kind is str or kind is Decimal:
        try:
            result = float(value)  # type: ignore[arg-type]
        except (ValueError, OverflowError):
            raise Rejected(f"schema.{field}", f"not a number: {str(value)[:40]!r}") from None
    else:
        raise Rejected(f"schema.{field}", f"expected a number, got {kind.__name__}")
    if result != result or result > _MAX_FLOAT or result < -_MAX_FLOAT:  # noqa: PLR0124
        raise Rejected(f"schema.{field}", f"not a finite number within ±1e100: {result!r}")
    return result


def epoch_ns(value: object) -> int:
    """UTC epoch ns from s / ms / µs / ns (told apart by magnitude) or an ISO 8601 string."""
    kind = type(value)
    if kind is int:
        whole: int = value  # type: ignore[assignment]
        if whole < 0:
            raise Rejected("schema.ts", f"negative timestamp {whole}")
        if whole < 100_000_000_000:
            whole *= 1_000_000_000
        elif whole < 100_000_000_000_000:
            whole *= 1_000_000
        elif whole < 100_000_000_000_000_000:
            whole *= 1_000
        if whole > _MAX_NS:
            raise Rejected("schema.ts", "timestamp out of range")
        return whole
    if kind is str:
        text: str = value  # type: ignore[assignment]
        try:
            return epoch_ns(int(text))
        except ValueError:
            pass
        return _iso_ns(text)
    if kind is float or kind is Decimal:
        return _fractional_ns(number(value, "ts"))
    raise Rejected("schema.ts", f"expected a timestamp, got {kind.__name__}")


def _fractional_ns(seconds_or_finer: float) -> int:
    value = seconds_or_finer
    if value < 0:
        raise Rejected("schema.ts", f"negative timestamp {value}")
    if value < 1e11:
        scaled = value * 1e9
    elif value < 1e14:
        scaled = value * 1e6
    elif value < 1e17:
        scaled = value * 1e3
    else:
        scaled = value
    if scaled > _MAX_NS:
        raise Rejected("schema.ts", "timestamp out of range")
    return round(scaled)


def _iso_ns(text: str) -> int:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Rejected("schema.ts", f"not a timestamp: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise Rejected("schema.ts", f"timestamp without a time zone: {text[:40]!r}")
    seconds = math.floor(parsed.timestamp())
    if seconds < 0:
        raise Rejected("schema.ts", f"timestamp before 1970: {text[:40]!r}")
    whole = seconds * 1_000_000_000 + parsed.microsecond * 1_000
    if whole > _MAX_NS:
        raise Rejected("schema.ts", "timestamp out of range")
    return whole


def _text(value: object, limit: int) -> str:
    """str() of a payload value for a message or an id; some values refuse (10**5000 does)."""
    try:
        return str(value)[:limit]
    except Exception:
        return f"<{type(value).__name__}>"


class Normalizer:
    """Stateful only for caches (symbol -> instrument id) and the tick rule's last price/side."""

    def __init__(
        self,
        symbols: SymbolMapper | None = None,
        amount_decimals: dict[str, int] | None = None,
    ) -> None:
        self._symbols = symbols or SymbolMapper()
        self._ids: dict[str, dict[str, str]] = {}
        self._scale = {raw: 10.0**-places for raw, places in (amount_decimals or {}).items()}
        self._last_price: dict[str, float] = {}
        self._last_side: dict[str, OrderSide] = {}

    def instrument(self, venue: str, symbol: object) -> str:
        by_symbol = self._ids.get(venue)
        if by_symbol is None:
            by_symbol = self._ids[venue] = {}
        if type(symbol) is not str:
            raise Rejected(
                "schema.symbol", f"expected a symbol string, got {type(symbol).__name__}"
            )
        iid = by_symbol.get(symbol)
        if iid is None:
            if not venue or "@" in venue:
                raise Rejected("schema.venue", f"bad venue name {venue!r}")
            try:
                iid = instrument_id(self._symbols.unified(symbol), venue)
            except SymbolError as exc:
                raise Rejected("schema.symbol", str(exc)) from None
            by_symbol[symbol] = iid
        return iid

    def trade(self, raw: RawTrade) -> TradeTick:
        iid = self.instrument(raw.venue, raw.symbol)
        price = number(raw.price, "price")
        size = number(raw.amount, "amount")
        if self._scale:
            size *= self._scale.get(str(raw.symbol), 1.0)
        side = (
            _SIDES.get(raw.side) if type(raw.side) is str or type(raw.side) is OrderSide else None
        )
        if side is None:
            if raw.side is not None and raw.side != "":
                raise Rejected("schema.side", f"unknown side {_text(raw.side, 20)!r}")
            side = self._tick_rule(iid, price)
        # parsed before the tick rule remembers this price: a rejected record must not count
        ts = epoch_ns(raw.ts)
        self._last_price[iid] = price
        self._last_side[iid] = side
        trade_id = raw.trade_id
        if type(trade_id) is not str:
            trade_id = "" if trade_id is None else _text(trade_id, 100)
        return TradeTick(iid, price, size, side, trade_id, ts)

    def _tick_rule(self, iid: str, price: float) -> OrderSide:
        last = self._last_price.get(iid)
        if last is None or price == last:
            return self._last_side.get(iid, _BUY)
        return _BUY if price > last else _SELL

    def bar(self, raw: RawBar) -> Bar:
        iid = self.instrument(raw.venue, raw.symbol)
        ts_open = epoch_ns(raw.ts)
        interval = number(raw.interval_s, "interval_s")
        if not 0 < interval <= 31 * 86_400:
            raise Rejected("schema.interval_s", f"bar interval {interval!r} s")
        ts_close = ts_open + round(interval * 1e9)
        if ts_close > _MAX_NS:
            raise Rejected("schema.ts", "bar close time out of range")
        return Bar(
            iid,
            number(raw.open, "open"),
            number(raw.high, "high"),
            number(raw.low, "low"),
            number(raw.close, "close"),
            number(raw.volume, "volume"),
            ts_open,
            ts_close,
        )

    def quote(self, raw: RawQuote) -> QuoteTick:
        return QuoteTick(
            self.instrument(raw.venue, raw.symbol),
            number(raw.bid, "bid"),
            number(raw.ask, "ask"),
            number(raw.bid_size, "bid_size"),
            number(raw.ask_size, "ask_size"),
            epoch_ns(raw.ts),
        )

    def book(self, raw: RawBook) -> DepthSnapshot:
        """A full L2 snapshot; without a venue sequence the snapshot's time orders it."""
        iid = self.instrument(raw.venue, raw.symbol)
        try:
            bids = parse_levels(raw.bids, "bids")
            asks = parse_levels(raw.asks, "asks")
        except DataError as exc:
            raise Rejected("schema.levels", str(exc)) from None
        ts = epoch_ns(raw.ts)
        sequence = raw.sequence
        if type(sequence) is not int or sequence < 0:
            sequence = ts
        return DepthSnapshot(iid, bids, asks, sequence, ts)
