"""Opening a ccxt exchange for public market data, by id, optionally pointed at other endpoints.

The exchange is ccxt.pro's class when ccxt has one (REST and WebSocket in one object), else the
plain async one (REST only). It is its own async context manager, and must be used as one
(`async with open_exchange("coinbase") as ex:`) so its HTTP session and sockets are closed.

`api_urls` / `ws_url` replace the venue's endpoints: tests point ccxt at a local recorded
server this way, and a user behind a proxy or mirror does the same. Currencies are not loaded by
default: market data needs only the market list, and on Coinbase currencies cost three extra
requests to v2 endpoints that the Advanced Trade market data API does not need.

Coinbase Advanced Trade streams 5-minute candles on its public `candles` channel, but ccxt.pro's
coinbase class has no watch_ohlcv; `CoinbaseWithCandles` adds it (only while ccxt itself lacks it).

A response body that looks like JSON but does not parse raises ccxt.BadResponse. ccxt on its
own swallows it and answers an empty list, which a poller cannot tell from "no new trades" and
a history download from "no more data" (it would end the download early, silently).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
from ccxt.async_support.base.ws.cache import ArrayCacheByTimestamp

from grekko.core.errors import ConfigError

__all__ = ["CoinbaseWithCandles", "exchange_ids", "open_exchange"]


def exchange_ids() -> list[str]:
    """Every exchange id ccxt knows (REST); the WebSocket-capable ones are in ccxt.pro.exchanges."""
    return list(ccxt_async.exchanges)


class CoinbaseWithCandles(ccxt_pro.coinbase):  # type: ignore[misc]
    """ccxt.pro coinbase plus watch_ohlcv over the public `candles` channel (5m candles only)."""

    def describe(self) -> Any:
        return self.deep_extend(super().describe(), {"has": {"watchOHLCV": True}})

    async def watch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "5m",
        since: int | None = None,
        limit: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[list[Any]]:
        if timeframe != "5m":
            raise ccxt_async.NotSupported(
                f"{self.id} watch_ohlcv() streams 5m candles only, not {timeframe}"
            )
        await self.load_markets()
        market = self.market(symbol)
        ohlcv = await self.subscribe("candles", False, market["symbol"], dict(params or {}))
        if self.newUpdates:
            limit = ohlcv.getLimit(market["symbol"], limit)
        result: list[list[Any]] = self.filter_by_since_limit(ohlcv, since, limit, 0, True)
        return result

    def handle_message(self, client: Any, message: Any) -> Any:
        if self.safe_string(message, "channel") == "candles":
            return self.handle_candles(client, message)
        return super().handle_message(client, message)

    def handle_candles(self, client: Any, message: Any) -> None:
        """Stores each candle of each event; resolves watchers of every symbol that changed."""
        touched: dict[str, Any] = {}
        for event in self.safe_list(message, "events", []) or []:
            for candle in self.safe_list(event, "candles", []) or []:
                if not isinstance(candle, dict):
                    continue
                market = self.safe_market(self.safe_string(candle, "product_id"))
                symbol = market["symbol"]
                if symbol is None:
                    continue
                row = self.parse_ohlcv(candle, market)
                if row[0] is None:
                    continue
                by_tf = self.ohlcvs.setdefault(symbol, {})
                stored = by_tf.get("5m")
                if stored is None:
                    stored = ArrayCacheByTimestamp(
                        self.safe_integer(self.options, "OHLCVLimit", 1000)
                    )
                    by_tf["5m"] = stored
                stored.append(row)
                touched[symbol] = stored
        for symbol, stored in touched.items():
            client.resolve(stored, "candles::" + symbol)
            self.try_resolve_usdc(client, "candles::" + symbol, stored)


def _strict_json(exchange: Any) -> None:
    parse = exchange.on_json_response

    def on_json_response(body: str) -> Any:
        try:
            return parse(body)
        except ValueError as exc:
            raise ccxt_async.BadResponse(
                f"{exchange.id} answered malformed JSON: {body[:200]!r}"
            ) from exc

    exchange.on_json_response = on_json_response


def _exchange_class(exchange_id: str) -> type[Any]:
    if exchange_id not in ccxt_async.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt_async.exchanges, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"unknown exchange id {exchange_id!r}.{hint} Valid ids are ccxt's exchange ids, "
            "lower case (coinbase, binance, kraken, ...): list them with "
            "`python -c 'import ccxt; print(ccxt.exchanges)'`."
        )
    if exchange_id == "coinbase" and "watch_ohlcv" not in vars(ccxt_pro.coinbase):
        return CoinbaseWithCandles
    if exchange_id in ccxt_pro.exchanges:
        return getattr(ccxt_pro, exchange_id)  # type: ignore[no-any-return]
    return getattr(ccxt_async, exchange_id)  # type: ignore[no-any-return]


def _with_ws_url(current: object, ws_url: str) -> object:
    """Every WebSocket endpoint string replaced, keeping ccxt's nesting (binance has several)."""
    if isinstance(current, dict):
        return {key: _with_ws_url(value, ws_url) for key, value in current.items()}
    return ws_url


def _urls_override(
    exchange_id: str,
    api: object,
    api_urls: Mapping[str, str] | None,
    ws_url: str | None,
) -> dict[str, Any]:
    if not isinstance(api, dict):
        if api_urls or ws_url:
            raise ConfigError(f"{exchange_id}: ccxt has a single API url; pass api_urls={{}}")
        return {}
    override: dict[str, Any] = {}
    for key, url in (api_urls or {}).items():
        if key not in api or key == "ws":
            known = ", ".join(sorted(k for k in api if k != "ws"))
            raise ConfigError(
                f"{exchange_id} has no API url named {key!r}; its names are: {known} "
                "(WebSocket endpoints go in ws_url)"
            )
        override[key] = url
    if ws_url is not None:
        if "ws" not in api:
            raise ConfigError(f"{exchange_id} has no WebSocket endpoint in ccxt to replace")
        override["ws"] = _with_ws_url(api["ws"], ws_url)
    return override


def open_exchange(
    exchange_id: str,
    *,
    api_urls: Mapping[str, str] | None = None,
    ws_url: str | None = None,
    options: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    load_currencies: bool = False,
    timeout_ms: int = 10_000,
) -> Any:
    """A ccxt async exchange (ccxt.pro when available) for public data; close it with `async with`.

    `options` merge into ccxt's per-exchange options; `config` into the constructor config (the
    escape hatch for anything else ccxt accepts). No API keys are set: public endpoints only.
    """
    cls = _exchange_class(exchange_id)
    probe = cls({"enableRateLimit": True})
    override = _urls_override(exchange_id, probe.urls.get("api"), api_urls, ws_url)
    settings: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms}
    if override:
        settings["urls"] = {"api": override}
    if not load_currencies:
        settings["has"] = {"fetchCurrencies": False}
    if options:
        settings["options"] = dict(options)
    settings = probe.deep_extend(settings, dict(config or {}))
    exchange = cls(settings)
    _strict_json(exchange)
    return exchange
