"""Uniswap pools as a price source: Swap logs become trades, pool state becomes quotes.

`ChainWatcher` polls the node: each poll asks eth_getLogs for the watched pools' events from the
block after the last one seen to the head, so nothing between polls is missed and nothing is read
twice. A Swap becomes a RawTrade of the pool's base token priced in its quote token (the amounts
that changed hands, so a large swap's price is its average fill); side is the trader's: buy when
the pool paid out base. Each block that moved a pool also yields a RawQuote of the pool's price
after that block, bid = ask = mid (a pool has no spread; its fee is not a quote), read from the
V2 Sync event's reserves or the V3 Swap event's sqrtPriceX96, so quotes cost no extra calls. Its
sizes are the base-token reserves (V3: the virtual reserves of the in-range liquidity). The
first poll also quotes every pool's current state, so a quiet pool still has a price.

Numbers leave as Decimal text (whole tokens), timestamps as the block's epoch seconds, trade ids
as "txhash:logIndex"; the ingest pipeline normalizes and validates them. Addresses and decimals
come in through `WatchedPool`: this module knows no deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction
from typing import Any

from web3 import Web3

from grekko.domain.raw import RawMarketData, RawQuote, RawTrade

V2_SWAP_TOPIC = bytes(Web3.keccak(text="Swap(address,uint256,uint256,uint256,uint256,address)"))
V2_SYNC_TOPIC = bytes(Web3.keccak(text="Sync(uint112,uint112)"))
V3_SWAP_TOPIC = bytes(Web3.keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)"))
VENUES = {"v2": "uniswap_v2", "v3": "uniswap_v3"}
Q96 = 2**96
MAX_BLOCKS_PER_QUERY = 2_000
_DIVIDE = Context(prec=40)  # a price to 40 significant digits: far past a float's 17
_WORD = 32


@dataclass(frozen=True)
class WatchedPool:
    address: str
    kind: str  # v2 | v3
    symbol: str  # BASE/QUOTE in token symbols, e.g. WETH/USDC
    base_is_token0: bool
    base_decimals: int
    quote_decimals: int
    venue: str = ""  # defaults to uniswap_v2 / uniswap_v3 by kind

    def __post_init__(self) -> None:
        if self.kind not in VENUES:
            raise ValueError(f"pool kind must be v2 or v3, got {self.kind!r}")
        object.__setattr__(self, "address", Web3.to_checksum_address(self.address))
        if not self.venue:
            object.__setattr__(self, "venue", VENUES[self.kind])


# -- pure: decoding --------------------------------------------------------------------------


def _words(data: bytes, signed: bool = False) -> list[int]:
    return [
        int.from_bytes(data[i : i + _WORD], "big", signed=signed)
        for i in range(0, len(data), _WORD)
    ]


def whole(units: int, decimals: int) -> str:
    """Base units as whole-token Decimal text, never in exponent form."""
    return format(Decimal(units).scaleb(-decimals), "f")


def _ratio(numerator: Fraction) -> str:
    return format(_DIVIDE.divide(Decimal(numerator.numerator), Decimal(numerator.denominator)), "f")


def swap_trade(
    pool: WatchedPool, base_to_trader: int, quote_from_trader: int, ts: int, trade_id: str
) -> RawTrade:
    """A trade from the pool's net token flows (base units, signed from the trader's side)."""
    if base_to_trader == 0:  # a swap that moved no base has no price; the pipeline rejects it
        return RawTrade(pool.venue, pool.symbol, None, "0", None, ts, trade_id)
    price = Fraction(abs(quote_from_trader) * 10**pool.base_decimals) / (
        abs(base_to_trader) * 10**pool.quote_decimals
    )
    return RawTrade(
        pool.venue,
        pool.symbol,
        _ratio(price),
        whole(abs(base_to_trader), pool.base_decimals),
        "buy" if base_to_trader > 0 else "sell",
        ts,
        trade_id,
    )


def v2_swap_trade(pool: WatchedPool, data: bytes, ts: int, trade_id: str) -> RawTrade:
    """Swap(sender, amount0In, amount1In, amount0Out, amount1Out, to): data holds the four."""
    in0, in1, out0, out1 = _words(data)[:4]
    if pool.base_is_token0:
        return swap_trade(pool, out0 - in0, in1 - out1, ts, trade_id)
    return swap_trade(pool, out1 - in1, in0 - out0, ts, trade_id)


def v3_swap_trade(pool: WatchedPool, data: bytes, ts: int, trade_id: str) -> RawTrade:
    """Swap(sender, recipient, amount0, amount1, ...): amounts are the pool's deltas, + = in."""
    amount0, amount1 = _words(data[: 2 * _WORD], signed=True)
    if pool.base_is_token0:
        return swap_trade(pool, -amount0, amount1, ts, trade_id)
    return swap_trade(pool, -amount1, amount0, ts, trade_id)


def reserves_quote(pool: WatchedPool, reserve0: int, reserve1: int, ts: int) -> RawQuote:
    """Mid price and base reserve of a pool holding (virtual) reserves reserve0, reserve1."""
    base, quote = (reserve0, reserve1) if pool.base_is_token0 else (reserve1, reserve0)
    if base <= 0 or quote <= 0:  # an empty pool has no price; the pipeline rejects it
        return RawQuote(pool.venue, pool.symbol, None, None, "0", "0", ts)
    mid = _ratio(Fraction(quote * 10**pool.base_decimals, base * 10**pool.quote_decimals))
    size = whole(base, pool.base_decimals)
    return RawQuote(pool.venue, pool.symbol, mid, mid, size, size, ts)


def v3_quote(pool: WatchedPool, sqrt_price_x96: int, liquidity: int, ts: int) -> RawQuote:
    """A V3 pool's in-range liquidity as virtual reserves (L/sqrtP, L*sqrtP) at its price."""
    if sqrt_price_x96 <= 0:
        return RawQuote(pool.venue, pool.symbol, None, None, "0", "0", ts)
    price = Fraction(sqrt_price_x96 * sqrt_price_x96, 2**192)  # raw token1 per raw token0
    if not pool.base_is_token0:
        price = 1 / price
    mid = _ratio(price * Fraction(10**pool.base_decimals, 10**pool.quote_decimals))
    virtual = (
        liquidity * Q96 // sqrt_price_x96
        if pool.base_is_token0
        else (liquidity * sqrt_price_x96 // Q96)
    )
    size = whole(virtual, pool.base_decimals)
    return RawQuote(pool.venue, pool.symbol, mid, mid, size, size, ts)


# -- the watcher -----------------------------------------------------------------------------


@dataclass
class _Block:
    number: int
    records: list[RawMarketData] = field(default_factory=list)
    last_state: dict[str, tuple[int, int]] = field(default_factory=dict)


_STATE_ABI: list[dict[str, Any]] = [
    {
        "name": "getReserves",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "reserve0", "type": "uint112"},
            {"name": "reserve1", "type": "uint112"},
            {"name": "blockTimestampLast", "type": "uint32"},
        ],
    },
    {
        "name": "slot0",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "sqrtPriceX96", "type": "uint160"},
            {"name": "tick", "type": "int24"},
            {"name": "observationIndex", "type": "uint16"},
            {"name": "observationCardinality", "type": "uint16"},
            {"name": "observationCardinalityNext", "type": "uint16"},
            {"name": "feeProtocol", "type": "uint8"},
            {"name": "unlocked", "type": "bool"},
        ],
    },
    {
        "name": "liquidity",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint128"}],
    },
]


class ChainWatcher:
    """An OnChainPriceSource over web3: `poll_once` does the work, `async for` repeats it."""

    def __init__(
        self,
        w3: Web3,
        pools: Sequence[WatchedPool],
        poll_s: float = 1.0,
        *,
        start_block: int | None = None,
        name: str = "chain:uniswap",
    ) -> None:
        """start_block: the first block to read; None starts at the head at the first poll."""
        if not pools:
            raise ValueError("a ChainWatcher needs at least one pool")
        self.w3 = w3
        self.poll_s = poll_s
        self.name = name
        self.watched: dict[str, WatchedPool] = {
            Web3.to_checksum_address(p.address): p for p in pools
        }
        self.pools: tuple[str, ...] = tuple(self.watched)
        self._next_block = start_block
        self._snapshot_due = True
        self._lock = threading.Lock()
        self._stopped = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def next_block(self) -> int | None:
        return self._next_block

    def poll_once(self) -> list[RawMarketData]:
        """The records of every block since the last poll, in block and log order."""
        with self._lock:
            head = int(self.w3.eth.block_number)
            first = head if self._next_block is None else self._next_block
            first = min(first, head + 1)  # the chain went back (a devnet revert): follow it
            records: list[RawMarketData] = []
            moved: set[str] = set()
            if first <= head:
                for block in self._blocks(self._logs(first, head)):
                    records += block.records
                    moved |= set(block.last_state)
            if self._snapshot_due:
                records += self._snapshot(head, exclude=moved)
                self._snapshot_due = False
            self._next_block = head + 1
            return records

    def _logs(self, first: int, last: int) -> list[Any]:
        topics = [["0x" + t.hex() for t in (V2_SWAP_TOPIC, V2_SYNC_TOPIC, V3_SWAP_TOPIC)]]
        found: list[Any] = []
        for start in range(first, last + 1, MAX_BLOCKS_PER_QUERY):
            end = min(start + MAX_BLOCKS_PER_QUERY - 1, last)
            query: Any = {
                "fromBlock": start,
                "toBlock": end,
                "address": list(self.pools),
                "topics": topics,
            }
            found += self.w3.eth.get_logs(query)
        return sorted(found, key=lambda e: (int(e["blockNumber"]), int(e["logIndex"])))

    def _blocks(self, logs: Iterable[Any]) -> list[_Block]:
        blocks: list[_Block] = []
        ts = 0
        for entry in logs:
            number = int(entry["blockNumber"])
            if not blocks or blocks[-1].number != number:
                if blocks:
                    blocks[-1].records += self._quotes(blocks[-1], ts)
                blocks.append(_Block(number))
                ts = int(self.w3.eth.get_block(number)["timestamp"])
            self._read(blocks[-1], entry, ts)
        if blocks:
            blocks[-1].records += self._quotes(blocks[-1], ts)
        return blocks

    def _read(self, block: _Block, entry: Any, ts: int) -> None:
        pool = self.watched.get(Web3.to_checksum_address(entry["address"]))
        topics = [bytes(t) for t in entry["topics"]]
        if pool is None or not topics:
            return
        data = bytes(entry["data"])
        trade_id = f"0x{bytes(entry['transactionHash']).hex()}:{int(entry['logIndex'])}"
        kind = (pool.kind, topics[0])
        if kind == ("v2", V2_SYNC_TOPIC):
            reserve0, reserve1 = _words(data)[:2]
            block.last_state[pool.address] = (reserve0, reserve1)
        elif kind == ("v2", V2_SWAP_TOPIC):
            block.records.append(v2_swap_trade(pool, data, ts, trade_id))
        elif kind == ("v3", V3_SWAP_TOPIC):
            block.records.append(v3_swap_trade(pool, data, ts, trade_id))
            words = _words(data[2 * _WORD : 4 * _WORD])
            block.last_state[pool.address] = (words[0], words[1])

    def _quotes(self, block: _Block, ts: int) -> list[RawMarketData]:
        out: list[RawMarketData] = []
        for address, (a, b) in block.last_state.items():
            pool = self.watched[address]
            out.append(
                reserves_quote(pool, a, b, ts) if pool.kind == "v2" else v3_quote(pool, a, b, ts)
            )
        return out

    def _snapshot(self, head: int, exclude: set[str]) -> list[RawMarketData]:
        """Every pool's state at the head, for pools no event has priced yet."""
        ts = int(self.w3.eth.get_block(head)["timestamp"])
        out: list[RawMarketData] = []
        for address, pool in self.watched.items():
            if address in exclude:
                continue
            contract = self.w3.eth.contract(
                address=Web3.to_checksum_address(address), abi=_STATE_ABI
            )
            if pool.kind == "v2":
                r0, r1, _ = contract.functions.getReserves().call(block_identifier=head)
                out.append(reserves_quote(pool, int(r0), int(r1), ts))
            else:
                sqrt_price = int(contract.functions.slot0().call(block_identifier=head)[0])
                liquidity = int(contract.functions.liquidity().call(block_identifier=head))
                out.append(v3_quote(pool, sqrt_price, liquidity, ts))
        return out

    # -- async ---------------------------------------------------------------------------------

    async def __aiter__(self) -> AsyncIterator[RawMarketData]:
        """Polls every `poll_s` until stop(); the node is called from a worker thread."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while self.running:
            for record in await asyncio.to_thread(self.poll_once):
                yield record
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    @property
    def running(self) -> bool:
        return not self._stopped

    def stop(self) -> None:
        """Ends iteration after the current poll; safe to call from any thread."""
        self._stopped = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)
