"""An authenticated Coinbase Advanced Trade client through ccxt: accounts, balances, orders, fills.

Synchronous on purpose: ccxt's sync `coinbase` class (requests underneath) blocks the calling
thread and nothing else, so the venue runs it on a worker thread and API handlers can use
`asyncio.to_thread`, with no event loop of its own to start, share or shut down. One client is
one HTTP session; its calls take a lock, so the venue and API handlers can share it.

Orders are written straight to Coinbase's create endpoint through ccxt's signed call: the order
configuration is built here from Decimals, so no amount passes through a float, the caller's
client_order_id is the one Coinbase stores (ccxt's create_order would make up its own), and a
market buy is sized in the base currency like any other order (ccxt would read it as quote).
Reads use ccxt's unified methods (pagination, symbols), with numbers kept as strings.

Errors are CoinbaseError subclasses whose messages hold the exchange's answer with the key name
blanked; the ccxt exception is not chained, so a traceback cannot carry more than the message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

import ccxt  # type: ignore[import-untyped]

from grekko.adapters.ccxt.coinbase_auth import (
    SIGNING_HOST,
    CdpCoinbase,
    CdpCredentials,
    CredentialNames,
    load_credentials,
)
from grekko.adapters.ccxt.coinbase_records import (
    Balance,
    Book,
    CancelResult,
    Candle,
    CoinbaseAccount,
    CoinbaseAuthError,
    CoinbaseError,
    CoinbaseUnavailable,
    ExchangeFill,
    ExchangeOrder,
    PlacedOrder,
    Product,
    account_from,
    book_from,
    cancel_results_from,
    candle_from,
    fill_from,
    order_from,
    placed_from,
    product_from,
)
from grekko.core.errors import ConfigError
from grekko.ports.secrets import SecretStore

__all__ = ["CoinbaseTrading", "ExchangeTimeInForce", "OrderRequest", "open_coinbase_trading"]

T = TypeVar("T")
ExchangeTimeInForce = Literal["GTC", "IOC", "FOK"]
_NOT_HELD = frozenset({"ACCOUNT_TYPE_VAULT"})  # savings vaults: not tradable, not a balance
_PAGED = {"paginate": True}  # ccxt follows Coinbase's cursor (at most 10 pages)


@dataclass(frozen=True)
class OrderRequest:
    """One order in the exchange's terms: a ccxt symbol, base-currency size, optional limit."""

    symbol: str
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit"]
    amount: Decimal
    client_order_id: str
    price: Decimal | None = None
    time_in_force: ExchangeTimeInForce = "GTC"
    post_only: bool = False

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell") or self.order_type not in ("market", "limit"):
            raise ConfigError(f"unsupported order {self.side} {self.order_type}")
        if not self.amount.is_finite() or self.amount <= 0:
            raise ConfigError(f"order amount must be positive, got {self.amount}")
        if self.order_type == "limit" and (self.price is None or self.price <= 0):
            raise ConfigError("a limit order needs a positive price")
        if not self.client_order_id:
            raise ConfigError("an order needs a client_order_id")


def order_configuration(request: OrderRequest) -> dict[str, dict[str, Any]]:
    """Coinbase's `order_configuration` for the request, amounts as exact decimal strings."""
    size = _plain(request.amount)
    if request.order_type == "market":
        return {"market_market_ioc": {"base_size": size}}
    if request.price is None:
        raise ConfigError("a limit order needs a price")
    price = _plain(request.price)
    if request.time_in_force == "IOC":
        return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
    if request.time_in_force == "FOK":
        return {"limit_limit_fok": {"base_size": size, "limit_price": price}}
    return {
        "limit_limit_gtc": {"base_size": size, "limit_price": price, "post_only": request.post_only}
    }


def _plain(amount: Decimal) -> str:
    return format(amount, "f")


class CoinbaseTrading:
    """Coinbase Advanced Trade for one CDP key; `close()` it (or use `with`)."""

    def __init__(self, exchange: CdpCoinbase, credentials: CdpCredentials) -> None:
        self._exchange = exchange
        self._credentials = credentials
        self._lock = (
            threading.RLock()
        )  # ccxt's market cache and the HTTP session are not shared safely

    def __repr__(self) -> str:
        return f"CoinbaseTrading(rest={self.rest_url!r}, key=<redacted>)"

    def __enter__(self) -> CoinbaseTrading:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rest_url(self) -> str:
        return str(self._exchange.urls["api"]["rest"])

    def close(self) -> None:
        self._exchange.close()

    # ---- market data -------------------------------------------------------------------------
    def products(self, *, reload: bool = False) -> list[Product]:
        markets = self._call("load markets", self._exchange.load_markets, reload)
        return [product_from(m) for m in markets.values() if m.get("spot")]

    def product(self, symbol: str) -> Product:
        return product_from(self._market(symbol))

    def order_book(self, symbol: str, depth: int | None = None) -> Book:
        """Read from Coinbase's JSON: ccxt's order book parser goes through float."""
        request: dict[str, Any] = {"product_id": self._market(symbol)["id"]}
        if depth is not None:
            request["limit"] = depth
        raw = self._call(
            "fetch order book", self._exchange.v3PublicGetBrokerageMarketProductBook, request
        )
        book = raw.get("pricebook") or {}
        return book_from(symbol, book, self._exchange.parse8601(book.get("time")))

    def candles(
        self,
        symbol: str,
        timeframe: str = "1h",
        since_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        rows = self._call(
            "fetch candles", self._exchange.fetch_ohlcv, symbol, timeframe, since_ms, limit
        )
        return [candle_from(row) for row in rows]

    # ---- account ---------------------------------------------------------------------------------
    def accounts(self) -> list[CoinbaseAccount]:
        raw = self._call("fetch accounts", self._exchange.fetch_accounts, dict(_PAGED))
        return [account_from(a.get("info") or {}) for a in raw]

    def balances(self) -> dict[str, Balance]:
        """Per currency: free (available), used (on hold for open orders) and their total."""
        totals: dict[str, tuple[Decimal, Decimal]] = {}
        for account in self.accounts():
            if account.type in _NOT_HELD or not account.currency:
                continue
            free, used = totals.get(account.currency, (Decimal(0), Decimal(0)))
            totals[account.currency] = (free + account.available, used + account.hold)
        return {c: Balance(free=f, used=u, total=f + u) for c, (f, u) in sorted(totals.items())}

    # ---- orders ----------------------------------------------------------------------------------
    def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        raw = self._call(
            "fetch open orders", self._exchange.fetch_open_orders, symbol, None, None, dict(_PAGED)
        )
        return [order_from(o) for o in raw]

    def order(self, order_id: str, symbol: str | None = None) -> ExchangeOrder:
        return order_from(self._call("fetch order", self._exchange.fetch_order, order_id, symbol))

    def fills(
        self,
        symbol: str | None = None,
        *,
        order_ids: Sequence[str] = (),
        since_ms: int | None = None,
        limit: int | None = None,
    ) -> list[ExchangeFill]:
        """The account's own trades, oldest first; order_ids narrows them to those orders."""
        params: dict[str, Any] = {"order_ids": list(order_ids)} if order_ids else {}
        if limit is None:
            params.update(_PAGED)
        raw = self._call(
            "fetch fills", self._exchange.fetch_my_trades, symbol, since_ms, limit, params
        )
        fills = [fill_from(t) for t in raw]
        return sorted(fills, key=lambda f: (f.ts_ms or 0, f.trade_id))

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        """Send the order; OrderRefused carries Coinbase's reason when it says no."""
        market = self._market(request.symbol)
        body = {
            "client_order_id": request.client_order_id,
            "product_id": market["id"],
            "side": request.side.upper(),
            "order_configuration": order_configuration(request),
        }
        response = self._call("create order", self._exchange.v3PrivatePostBrokerageOrders, body)
        return placed_from(response, request.client_order_id)

    def cancel(self, order_ids: Sequence[str]) -> dict[str, CancelResult]:
        """Cancel by exchange order id; each id's result says whether Coinbase cancelled it."""
        if not order_ids:
            return {}
        response = self._call(
            "cancel orders",
            self._exchange.v3PrivatePostBrokerageOrdersBatchCancel,
            {"order_ids": list(order_ids)},
        )
        results = cancel_results_from(response)
        missing = [i for i in order_ids if i not in results]
        if missing:
            raise CoinbaseError(f"Coinbase said nothing about cancelling {missing}")
        return results

    # ---- internals ---------------------------------------------------------------------------------
    def _market(self, symbol: str) -> Mapping[str, Any]:
        self._call("load markets", self._exchange.load_markets)
        try:
            market: Mapping[str, Any] = self._exchange.market(symbol)
        except ccxt.BadSymbol:
            raise ConfigError(f"Coinbase has no market {symbol!r}") from None
        return market

    def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            with self._lock:
                return fn(*args)
        except ccxt.AuthenticationError as exc:
            error: CoinbaseError = CoinbaseAuthError(self._message(what, exc))
        except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:  # refused: nothing was done
            error = CoinbaseError(self._message(what, exc))
        except ccxt.NetworkError as exc:
            error = CoinbaseUnavailable(self._message(what, exc))
        except ccxt.BaseError as exc:
            error = CoinbaseError(self._message(what, exc))
        raise error

    def _message(self, what: str, exc: Exception) -> str:
        text = self._credentials.scrub(str(exc))
        if len(text) > 600:
            text = text[:600] + "..."
        return f"coinbase {what} failed: {type(exc).__name__}: {text}"


def open_coinbase_trading(
    store: SecretStore,
    *,
    names: CredentialNames | None = None,
    api_urls: Mapping[str, str] | None = None,
    signing_host: str = SIGNING_HOST,
    timeout_ms: int = 10_000,
    config: Mapping[str, Any] | None = None,
) -> CoinbaseTrading:
    """A client signed with the CDP key from `store`; api_urls={"rest": ...} points it elsewhere.

    Nothing is requested yet: a wrong key shows on the first call (CoinbaseAuthError), a key
    that is missing or not an EC P-256 PEM right here (ConfigError naming the secret).
    """
    credentials = load_credentials(store, names)
    probe = ccxt.coinbase()
    known = sorted(probe.urls["api"])
    probe.close()
    unknown = sorted(set(api_urls or {}) - set(known))
    if unknown:
        raise ConfigError(f"coinbase has no API url named {unknown}; its names are {known}")
    settings: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": timeout_ms,
        "has": {"fetchCurrencies": False},
        "options": {"advanced": True},
    }
    if api_urls:
        settings["urls"] = {"api": dict(api_urls)}
    settings = probe.deep_extend(settings, dict(config or {}))
    exchange = CdpCoinbase(settings, credentials, signing_host)
    return CoinbaseTrading(exchange, credentials)
