"""Market pools seeded at the bundled replay's prices and kept there bar by bar, on real anvil
with the real Uniswap V2 and V3 bytecode."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from web3 import Web3

import grekko
from grekko.adapters.devnet.deploy import Deployment
from grekko.adapters.devnet.market_pools import (
    DEFAULT_DEPTH_USD,
    MARKET_PAIRS,
    UNI_DEFAULT_USD,
    V3_FEES,
    MarketPool,
    instrument_pool_tokens,
    pair_price,
    pool_price,
    seed_market_pools,
    token_contract,
    usd_prices,
)
from grekko.adapters.devnet.mirror import MarketMirror, MirrorTrade, off_by_bps
from grekko.adapters.devnet.paths import ChainError
from grekko.adapters.evm.chain_source import ChainWatcher, WatchedPool
from grekko.domain.raw import RawQuote, RawTrade

DATA = Path(grekko.__file__).parent / "data"
BARS = 31  # the first bar seeds, the next 30 are mirrored
TOLERANCE_BPS = 2


def _closes(pair: str) -> list[tuple[int, Decimal]]:
    path = DATA / f"{pair}_spot_1m_2021-04-19_2021-04-25.csv.gz"
    with gzip.open(path, "rt", newline="") as handle:
        rows = list(zip(range(BARS), csv.DictReader(handle), strict=False))
    return [(int(row["open_time_ms"]), Decimal(row["close"])) for _, row in rows]


@pytest.fixture(scope="module")
def bars() -> list[dict[str, Decimal]]:
    """{"BTC": close, "ETH": close} per minute, the two replays' bars paired by open time."""
    btc, eth = _closes("BTCUSDT"), _closes("ETHUSDT")
    assert [t for t, _ in btc] == [t for t, _ in eth]
    return [{"BTC": b, "ETH": e} for (_, b), (_, e) in zip(btc, eth, strict=True)]


def _targets(prices: dict[str, Decimal]) -> dict[str, Fraction]:
    usd = usd_prices(prices)
    return {pair.symbol: pair_price(pair, usd) for pair in MARKET_PAIRS}


def _venue(pool: MarketPool) -> str:
    """Each V3 fee tier as its own venue, so every record names exactly one pool."""
    return pool.venue if pool.kind == "v2" else f"{pool.venue}_{pool.fee}"


def _watched(pool: MarketPool) -> WatchedPool:
    return WatchedPool(
        pool.address,
        pool.kind,
        pool.symbol,
        pool.base_is_token0,
        pool.base_decimals,
        pool.quote_decimals,
        _venue(pool),
    )


def _transactions_since(w3: Web3, block: int) -> int:
    """Transactions of every sender mined after `block` (automine may put several in one)."""
    newer = range(block + 1, w3.eth.block_number + 1)
    return sum(len(w3.eth.get_block(number)["transactions"]) for number in newer)


def test_instruments_map_to_the_devnet_tokens() -> None:
    assert instrument_pool_tokens("BTC/USDT") == ("WBTC", "USDC")
    assert instrument_pool_tokens("ETH/USD@coinbase") == ("WETH", "USDC")
    assert instrument_pool_tokens("ETH/BTC") == ("WETH", "WBTC")
    usd = usd_prices({"BTC/USDT": Decimal(50_000), "ETH": Decimal(2_000)})
    assert usd == {"USDC": 1, "WBTC": 50_000, "WETH": 2_000, "UNI": UNI_DEFAULT_USD}
    with pytest.raises(ChainError, match="no devnet token"):
        instrument_pool_tokens("DOGE/USDT")
    with pytest.raises(ChainError, match="dollar-quoted"):
        usd_prices({"ETH/BTC": Decimal("0.04")})


def test_seeding_prices_every_pool_at_the_first_bar_once(
    w3: Web3, session_deployment: Deployment, bars: list[dict[str, Decimal]]
) -> None:
    pools = seed_market_pools(w3, session_deployment, bars[0])
    expected = {("uniswap_v2", p.symbol, 3000) for p in MARKET_PAIRS}
    expected |= {("uniswap_v3", p.symbol, fee) for p in MARKET_PAIRS for fee in V3_FEES}
    assert {(p.venue, p.symbol, p.fee) for p in pools} == expected
    assert all(p.created for p in pools)
    targets = _targets(bars[0])
    for pool in pools:
        assert off_by_bps(pool_price(w3, pool), targets[pool.symbol]) <= 1, pool
    # half the depth on each side: the V2 WETH/USDC pair holds $2M of USDC
    usdc = token_contract(w3, session_deployment, "USDC")
    v2_weth_usdc = next(p for p in pools if p.kind == "v2" and p.symbol == "WETH/USDC")
    held = Decimal(usdc.functions.balanceOf(v2_weth_usdc.address).call()).scaleb(-6)
    assert held == DEFAULT_DEPTH_USD / 2

    block = w3.eth.block_number
    again = seed_market_pools(w3, session_deployment, {"BTC": Decimal(1), "ETH": Decimal(1)})
    assert w3.eth.block_number == block  # nothing sent: every pool was there
    assert [(p.address, p.created) for p in again] == [(p.address, False) for p in pools]
    for pool in again:
        assert off_by_bps(pool_price(w3, pool), targets[pool.symbol]) <= 1


def test_the_mirror_follows_thirty_bars_of_the_replay(
    w3: Web3, session_deployment: Deployment, bars: list[dict[str, Decimal]]
) -> None:
    pools = seed_market_pools(w3, session_deployment, bars[0])
    mirror = MarketMirror(w3, session_deployment)
    mirror.prepare()
    watcher = ChainWatcher(w3, [_watched(p) for p in pools], start_block=w3.eth.block_number + 1)
    done: list[MirrorTrade] = []
    for bar in bars[1:]:
        targets = _targets(bar)
        before = {p.address: pool_price(w3, p) for p in pools}
        off = {p.address for p in pools if off_by_bps(before[p.address], targets[p.symbol]) > 2}
        block = w3.eth.block_number
        trades = mirror.align(bar)
        assert {t.pool for t in trades} == off
        assert _transactions_since(w3, block) == len(trades)  # one per pool that was off
        for pool in pools:
            assert off_by_bps(pool_price(w3, pool), targets[pool.symbol]) <= TOLERANCE_BPS
        for trade in trades:
            base, _ = trade.symbol.split("/")
            assert (trade.sold == base) == (trade.target < trade.price_before)
            assert abs(Fraction(trade.price_before) / before[trade.pool] - 1) < Fraction(1, 10**20)
        done += trades
    moved = {(t.venue, t.symbol) for t in done}
    assert moved == {(v, p.symbol) for v in ("uniswap_v2", "uniswap_v3") for p in MARKET_PAIRS}
    _the_watcher_saw_every_mirror_trade(w3, watcher, pools, done)


def _the_watcher_saw_every_mirror_trade(
    w3: Web3, watcher: ChainWatcher, pools: list[MarketPool], done: list[MirrorTrade]
) -> None:
    """The chain source reads the mirror's swaps back: same transactions, sides and amounts,
    and each pool's last quote is its price now."""
    records = watcher.poll_once()
    trades = [r for r in records if isinstance(r, RawTrade)]
    assert [str(t.trade_id).split(":")[0] for t in trades] == [m.tx_hash for m in done]
    by_address = {p.address: p for p in pools}
    for raw, made in zip(trades, done, strict=True):
        pool = by_address[made.pool]
        assert (raw.venue, raw.symbol) == (_venue(pool), pool.symbol)
        sold_base = made.sold == pool.pair.base
        assert raw.side == ("sell" if sold_base else "buy")
        if sold_base:
            assert Decimal(str(raw.amount)) == Decimal(made.amount_in).scaleb(-pool.base_decimals)
    last_quote = {(q.venue, q.symbol): q for q in records if isinstance(q, RawQuote)}
    for pool in pools:
        mid = Fraction(Decimal(str(last_quote[_venue(pool), pool.symbol].bid)))
        assert abs(mid / pool_price(w3, pool) - 1) < Fraction(1, 10**30)


def test_an_unchanged_bar_sends_no_transaction(
    w3: Web3, session_deployment: Deployment, bars: list[dict[str, Decimal]]
) -> None:
    seed_market_pools(w3, session_deployment, bars[0])
    mirror = MarketMirror(w3, session_deployment)
    assert mirror.align(bars[1])
    block, nonce = w3.eth.block_number, w3.eth.get_transaction_count(mirror.address)
    assert mirror.align(bars[1]) == []
    # a move inside the tolerance (1 bp on both assets) is no reason to trade either
    nudged = {asset: price * Decimal("1.0001") for asset, price in bars[1].items()}
    assert mirror.align(nudged) == []
    assert (w3.eth.block_number, w3.eth.get_transaction_count(mirror.address)) == (block, nonce)
