"""What the Coinbase trading client returns: plain records with Decimal amounts.

ccxt runs with string numbers (see `CdpCoinbase`), so each amount here is Decimal(the exchange's
own string). Where ccxt's unified structure drops a field Coinbase sends (an account's hold, a
product's increments), the record reads it from ccxt's `info`, Coinbase's JSON as received.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from grekko.core.errors import VenueError

__all__ = [
    "Balance",
    "Book",
    "CancelResult",
    "Candle",
    "CoinbaseAccount",
    "CoinbaseAuthError",
    "CoinbaseError",
    "CoinbaseNotLinked",
    "CoinbaseOrdersWorking",
    "CoinbaseUnavailable",
    "ExchangeFill",
    "ExchangeOrder",
    "OrderRefused",
    "PlacedOrder",
    "Product",
]


class CoinbaseError(VenueError):
    """Coinbase could not be asked or did not answer usably; never holds a credential."""


class CoinbaseNotLinked(CoinbaseError):
    """No Coinbase key has been linked yet, or Coinbase cannot price the product."""


class CoinbaseOrdersWorking(CoinbaseError):
    """Coinbase cannot be unlinked while orders placed through it are still being followed."""


class CoinbaseAuthError(CoinbaseError):
    """Coinbase refused the credentials (bad key, bad signature, missing permission)."""


class CoinbaseUnavailable(CoinbaseError):
    """No answer (timeout, connection refused, 5xx): whether a write happened is unknown."""


class OrderRefused(CoinbaseError):
    """Coinbase answered an order with `success: false`; `code` is its error, e.g. INSUFFICIENT_FUND."""

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        self.code = code
        self.message = message
        self.detail = detail
        parts = [code, message, detail]
        super().__init__(": ".join(p for p in parts if p) or "order refused")


@dataclass(frozen=True)
class Balance:
    free: Decimal
    used: Decimal
    total: Decimal


@dataclass(frozen=True)
class CoinbaseAccount:
    uuid: str
    name: str
    currency: str
    available: Decimal
    hold: Decimal
    type: str
    active: bool


@dataclass(frozen=True)
class Product:
    symbol: str  # ccxt's unified symbol, BTC/USD
    product_id: str  # Coinbase's, BTC-USD
    base: str
    quote: str
    price_increment: Decimal
    size_increment: Decimal
    min_size: Decimal | None
    min_notional: Decimal | None
    trading_disabled: bool


@dataclass(frozen=True)
class Book:
    symbol: str
    bids: list[tuple[Decimal, Decimal]]  # (price, size), best first
    asks: list[tuple[Decimal, Decimal]]
    ts_ms: int | None


@dataclass(frozen=True)
class Candle:
    ts_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class ExchangeOrder:
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    status: str  # ccxt's: open, closed, canceled
    exchange_status: str  # Coinbase's: OPEN, FILLED, CANCELLED, EXPIRED, FAILED, PENDING, ...
    status_message: str  # Coinbase's cancel or reject message, when it gives one
    amount: Decimal | None
    price: Decimal | None
    filled: Decimal
    average: Decimal | None
    fee: Decimal | None
    created_ms: int | None


@dataclass(frozen=True)
class ExchangeFill:
    trade_id: str
    order_id: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str  # maker or taker
    ts_ms: int | None


@dataclass(frozen=True)
class PlacedOrder:
    order_id: str
    client_order_id: str
    product_id: str


@dataclass(frozen=True)
class CancelResult:
    order_id: str
    success: bool
    failure_reason: str


def decimal_or_none(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(value) if isinstance(value, str | int) else Decimal(repr(value))
    except (InvalidOperation, TypeError, ValueError):
        raise CoinbaseError(f"Coinbase sent {value!r} where a number belongs") from None
    if not number.is_finite():
        raise CoinbaseError(f"Coinbase sent {value!r} where a number belongs")
    return number


def decimal(value: object) -> Decimal:
    number = decimal_or_none(value)
    if number is None:
        raise CoinbaseError("Coinbase left out a number it always sends")
    return number


def account_from(info: Mapping[str, Any]) -> CoinbaseAccount:
    return CoinbaseAccount(
        uuid=str(info.get("uuid", "")),
        name=str(info.get("name", "")),
        currency=str(info.get("currency", "")),
        available=decimal((info.get("available_balance") or {}).get("value", "0")),
        hold=decimal((info.get("hold") or {}).get("value", "0")),
        type=str(info.get("type", "")),
        active=bool(info.get("active", True)),
    )


def product_from(market: Mapping[str, Any]) -> Product:
    info = market.get("info") or {}
    return Product(
        symbol=str(market["symbol"]),
        product_id=str(market["id"]),
        base=str(market["base"]),
        quote=str(market["quote"]),
        price_increment=decimal(info.get("price_increment") or info.get("quote_increment")),
        size_increment=decimal(info.get("base_increment")),
        min_size=decimal_or_none(info.get("base_min_size")),
        min_notional=decimal_or_none(info.get("quote_min_size")),
        trading_disabled=bool(info.get("trading_disabled", False)),
    )


def book_from(symbol: str, pricebook: Mapping[str, Any], ts_ms: int | None) -> Book:
    def side(levels: Sequence[Mapping[str, Any]]) -> list[tuple[Decimal, Decimal]]:
        return [(decimal(level.get("price")), decimal(level.get("size"))) for level in levels]

    bids = side(pricebook.get("bids") or [])
    return Book(symbol, bids, side(pricebook.get("asks") or []), ts_ms)


def candle_from(row: Sequence[Any]) -> Candle:
    return Candle(int(row[0]), *(decimal(v) for v in row[1:6]))


def order_from(raw: Mapping[str, Any]) -> ExchangeOrder:
    fee = raw.get("fee") or {}
    info = raw.get("info") or {}
    message = info.get("cancel_message") or info.get("reject_message") or ""
    return ExchangeOrder(
        order_id=str(raw.get("id") or ""),
        client_order_id=str(raw.get("clientOrderId") or ""),
        symbol=str(raw.get("symbol") or ""),
        side=str(raw.get("side") or ""),
        order_type=str(raw.get("type") or ""),
        status=str(raw.get("status") or ""),
        exchange_status=str(info.get("status") or ""),
        status_message=str(message),
        amount=decimal_or_none(raw.get("amount")),
        price=decimal_or_none(raw.get("price")),
        filled=decimal_or_none(raw.get("filled")) or Decimal(0),
        average=decimal_or_none(raw.get("average")),
        fee=decimal_or_none(fee.get("cost")),
        created_ms=raw.get("timestamp"),
    )


def fill_from(raw: Mapping[str, Any]) -> ExchangeFill:
    fee = raw.get("fee") or {}
    return ExchangeFill(
        trade_id=str(raw.get("id") or ""),
        order_id=str(raw.get("order") or ""),
        symbol=str(raw.get("symbol") or ""),
        side=str(raw.get("side") or ""),
        amount=decimal(raw.get("amount")),
        price=decimal(raw.get("price")),
        fee=decimal_or_none(fee.get("cost")) or Decimal(0),
        fee_currency=str(fee.get("currency") or ""),
        liquidity=str(raw.get("takerOrMaker") or "taker"),
        ts_ms=raw.get("timestamp"),
    )


def placed_from(response: Mapping[str, Any], client_order_id: str) -> PlacedOrder:
    """The create-order answer: the exchange's order id, or OrderRefused with Coinbase's reason."""
    if response.get("success") is not True:
        error = response.get("error_response") or {}
        code = str(
            error.get("error")
            or error.get("new_order_failure_reason")
            or error.get("preview_failure_reason")
            or response.get("failure_reason")
            or "UNKNOWN_FAILURE_REASON"
        )
        raise OrderRefused(
            code, str(error.get("message") or ""), str(error.get("error_details") or "")
        )
    body = response.get("success_response") or {}
    order_id = str(body.get("order_id") or response.get("order_id") or "")
    if not order_id:
        raise CoinbaseError("Coinbase accepted an order without saying its id")
    return PlacedOrder(
        order_id=order_id,
        client_order_id=str(body.get("client_order_id") or client_order_id),
        product_id=str(body.get("product_id") or ""),
    )


def cancel_results_from(response: Mapping[str, Any]) -> dict[str, CancelResult]:
    results = {}
    for item in response.get("results") or []:
        order_id = str(item.get("order_id") or "")
        results[order_id] = CancelResult(
            order_id=order_id,
            success=item.get("success") is True,
            failure_reason=str(item.get("failure_reason") or ""),
        )
    return results
