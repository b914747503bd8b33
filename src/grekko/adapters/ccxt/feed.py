"""CcxtFeed: one exchange/symbol/channel as a RawSource the ingest service can run.

It owns its exchange for its whole life: opened when iteration starts, closed when it ends or
is cancelled, so a stopped `grekko ingest` leaves no socket or HTTP session behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from grekko.adapters.ccxt.exchange import open_exchange
from grekko.adapters.ccxt.source import CcxtMarketDataSource, FeedStats
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawMarketData

CHANNELS = ("trades", "ohlcv", "ticker", "book")


class CcxtFeed:
    def __init__(
        self,
        exchange_id: str,
        symbol: str,
        channel: str = "trades",
        *,
        websocket: bool = True,
        interval_s: float = 5.0,
        timeframe: str = "1m",
        api_urls: Mapping[str, str] | None = None,
        ws_url: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        if channel not in CHANNELS:
            raise ConfigError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
        self.exchange_id = exchange_id
        self.symbol = symbol
        self.channel = channel
        self.websocket = websocket
        self.interval_s = interval_s
        self.timeframe = timeframe
        self._api_urls = api_urls
        self._ws_url = ws_url
        self._config = config
        self.stats = FeedStats()
        kind = "ws" if websocket else "rest"
        self.name = f"{exchange_id}:{symbol}:{channel}:{kind}"

    async def __aiter__(self) -> AsyncIterator[RawMarketData]:
        exchange = open_exchange(
            self.exchange_id, api_urls=self._api_urls, ws_url=self._ws_url, config=self._config
        )
        async with exchange:
            source = CcxtMarketDataSource(exchange, interval_s=self.interval_s)
            self.stats = source.stats
            async for record in self._records(source):
                yield record

    def _records(self, source: CcxtMarketDataSource) -> AsyncIterator[RawMarketData]:
        symbol, timeframe = self.symbol, self.timeframe
        if self.websocket:
            streams: dict[str, Any] = {
                "trades": lambda: source.watch_trades(symbol),
                "ohlcv": lambda: source.watch_bars(symbol, timeframe),
                "ticker": lambda: source.watch_quotes(symbol),
                "book": lambda: source.watch_books(symbol),
            }
        else:
            streams = {
                "trades": lambda: source.poll_trades(symbol),
                "ohlcv": lambda: source.poll_bars(symbol, timeframe),
                "ticker": lambda: source.poll_quotes(symbol),
                "book": lambda: source.poll_books(symbol),
            }
        records: AsyncIterator[RawMarketData] = streams[self.channel]()
        return records
