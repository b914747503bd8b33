"""ccxt: live and historical CEX market data from any exchange ccxt supports (Coinbase first)."""

from grekko.adapters.ccxt.exchange import exchange_ids, open_exchange
from grekko.adapters.ccxt.history import fetch_ohlcv_history
from grekko.adapters.ccxt.source import CcxtMarketDataSource, FeedStats

__all__ = [
    "CcxtMarketDataSource",
    "FeedStats",
    "exchange_ids",
    "fetch_ohlcv_history",
    "open_exchange",
]
