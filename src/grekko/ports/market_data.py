"""Market data ports: historical iterables for backtests, async raw sources for the ingest pipeline.

A `RawSource` is anything that yields raw records (grekko.domain.raw) asynchronously: a replayed
file, a ccxt REST poller or WebSocket, a chain watcher. Sources copy payload fields and do no
checking; the pipeline normalizes and validates.

`OnChainPriceSource` is the hook for prices read from chain: pool reserves and swaps become
RawQuote / RawTrade records with venue = the DEX (e.g. "uniswap_v2") and the pool's token pair
as symbol. The devnet issue implements it on web3; `price_from_reserves` is the arithmetic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Protocol, runtime_checkable

from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.raw import RawMarketData

MarketData = Bar | TradeTick | QuoteTick


class MarketDataSource(Protocol):
    def __iter__(self) -> Iterator[MarketData]: ...


@runtime_checkable
class RawSource(Protocol):
    """name: a short label for logs and metrics (e.g. 'replay:BTCUSDT_spot_1m.csv.gz')."""

    name: str

    def __aiter__(self) -> AsyncIterator[RawMarketData]: ...


@runtime_checkable
class OnChainPriceSource(RawSource, Protocol):
    """Prices from pools: `pools` lists the watched pool addresses."""

    pools: tuple[str, ...]


def price_from_reserves(
    reserve_base: int, reserve_quote: int, decimals_base: int, decimals_quote: int
) -> float:
    """Spot price of base in quote from a constant-product pool's raw reserves."""
    if reserve_base <= 0 or reserve_quote <= 0:
        raise ValueError("pool reserves must be positive")
    quote = reserve_quote / 10**decimals_quote
    base = reserve_base / 10**decimals_base
    return float(quote / base)
