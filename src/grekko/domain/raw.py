"""Market data as a source hands it over, before the pipeline has looked at it.

Sources (replay files, ccxt REST/WebSocket, chain events) do no checking of their own: they copy
the fields out of the venue's payload into these records, untyped, and the ingest pipeline's
normalizer turns them into Bar / TradeTick / QuoteTick or quarantines them with a reason.
Fields are `object` because that is the honest type of a payload field before validation.

`venue` names where the data came from ("coinbase", "binance", "replay"); `symbol` is spelled
the venue's way (BTC-USD, BTCUSDT, BTC/USD); `ts` is epoch s/ms/µs/ns or an ISO 8601 string.
"""

from __future__ import annotations

import msgspec


class RawTrade(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: object
    price: object
    amount: object
    side: object
    ts: object
    trade_id: object = ""


class RawBar(msgspec.Struct, frozen=True, gc=False):
    """ts is the bar's open time; interval_s its length (60 for 1m)."""

    venue: str
    symbol: object
    ts: object
    open: object
    high: object
    low: object
    close: object
    volume: object
    interval_s: object = 60


class RawQuote(msgspec.Struct, frozen=True, gc=False):
    venue: str
    symbol: object
    bid: object
    ask: object
    bid_size: object
    ask_size: object
    ts: object


class RawBook(msgspec.Struct, frozen=True, gc=False):
    """A full L2 snapshot as a venue sends it: levels are (price, size) pairs, best first."""

    venue: str
    symbol: object
    bids: object
    asks: object
    ts: object
    sequence: object = None


RawMarketData = RawTrade | RawBar | RawQuote
