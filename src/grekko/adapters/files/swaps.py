"""On-chain swaps as a price source: the hook the devnet issue fills with live chain events.

`UniswapV2SwapReplay` reads a Uniswap V2 pair's swaps as The Graph exports them (amount0In,
amount0Out, amount1In, amount1Out, decimal-adjusted; ../shared/data/uniswap_v2_swaps) and turns
each into a trade of token0 priced in token1: the pool paid out token0 for token1 (a buy) or the
reverse (a sell), price = token1 amount / token0 amount. It satisfies `OnChainPriceSource`; a
web3 watcher of the devnet's pools will produce the same records from Swap logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from grekko.core.errors import DataError
from grekko.domain.raw import RawTrade

COLUMNS = ("amount0In", "amount0Out", "amount1In", "amount1Out", "timestamp", "id", "pair.id")
YIELD_EVERY = 512


def swap_trade(row: dict[str, str], venue: str, symbol: str) -> RawTrade:
    """One swap as a trade; amounts stay Decimal text until the price, which is an observation."""
    try:
        in0, out0 = Decimal(row["amount0In"]), Decimal(row["amount0Out"])
        in1, out1 = Decimal(row["amount1In"]), Decimal(row["amount1Out"])
    except (InvalidOperation, KeyError, TypeError):
        return RawTrade(venue, symbol, None, None, None, row.get("timestamp"), row.get("id"))
    base = out0 - in0  # > 0: token0 left the pool, the trader bought it
    quote = in1 - out1
    side = "buy" if base > 0 else "sell"
    price = str(abs(quote / base)) if base != 0 else None
    return RawTrade(venue, symbol, price, str(abs(base)), side, row.get("timestamp"), row.get("id"))


class UniswapV2SwapReplay:
    def __init__(self, path: Path, *, venue: str = "uniswap_v2", symbol: str | None = None) -> None:
        path = Path(path)
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{path.name}: cannot read ({exc})") from exc
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"{path.name}: not a Uniswap V2 swaps export; missing {missing}")
        if symbol is None:
            tokens = ("pair.token0.symbol", "pair.token1.symbol")
            if not all(c in frame.columns for c in tokens) or frame.empty:
                raise DataError(f"{path.name}: no token symbols in the file; pass symbol=")
            symbol = f"{frame[tokens[0]].iloc[0]}/{frame[tokens[1]].iloc[0]}"
        self.symbol = symbol
        self.venue = venue
        self.pools = tuple(sorted(set(frame["pair.id"])))
        self.name = f"swaps:{path.name}"
        self._rows = frame.to_dict("records")

    async def __aiter__(self) -> AsyncIterator[RawTrade]:
        for index, row in enumerate(self._rows):
            if index % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            yield swap_trade(row, self.venue, self.symbol)
