"""What a DEX adapter answers: quotes, fills and rejections, the same for every protocol.

The venue compares quotes from Uniswap V2 and V3 and executes the best one through the adapter that
made it, so both speak these types. Amounts are raw base units (int); a fill's price is Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from web3.exceptions import ContractLogicError

from grekko.core.errors import GrekkoError

MAX_UINT256 = 2**256 - 1
BPS = 10_000


def gas_with_headroom(estimate: int) -> int:
    """A V2 pair's first trade in a new block also writes its price accumulators (about 45k gas
    per pair), which an estimate made against the previous block misses; unused gas is refunded."""
    return estimate * 2 + 60_000


def revert_reason(exc: ContractLogicError) -> str:
    text = str(exc.message if exc.message else exc)
    return text.removeprefix("execution reverted: ").removeprefix("execution reverted")


@dataclass(frozen=True)
class Quote:
    path: tuple[str, ...]
    amount_in: int
    amount_out: int
    amounts: tuple[int, ...]  # per hop where the protocol reports it, amount_in first
    fees: tuple[int, ...] = ()  # V3 fee tier of each hop in hundredths of a bip; empty on V2
    protocol: str = "uniswap_v2"
    gas_estimate: int = 0  # what the quoter reports, where it does (V3)
    exact_output: bool = False  # amount_out is fixed and amount_in is what it costs (a buy)


@dataclass(frozen=True)
class SwapFill:
    tx_hash: str
    path: tuple[str, ...]
    amount_in: int  # base units of path[0] that left the wallet
    amount_out: int  # base units of path[-1] that reached it
    price: Decimal  # whole out-tokens per whole in-token
    gas_used: int
    fee_wei: int  # gas used * effective gas price
    block_number: int
    protocol: str = "uniswap_v2"
    fees: tuple[int, ...] = ()


@dataclass(frozen=True)
class SwapRejected:
    reason: str  # the revert reason, e.g. "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    path: tuple[str, ...]
    amount_in: int
    min_amount_out: int
    tx_hash: str | None = None  # None when the revert was caught before sending


class SwapError(GrekkoError):
    """A swap that failed for a reason other than the protocol's own revert."""
