"""ChainWatcher on real anvil: a wallet's swaps through the real Router02 come back as trades
with the fills' exact amounts, and as valid input of the real ingest pipeline."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction

from evm_chain_support import EvmChain
from web3 import Web3

from grekko.adapters.evm import SwapFill, UniswapV2
from grekko.adapters.evm.chain_source import ChainWatcher, WatchedPool
from grekko.core.time import LiveClock
from grekko.domain.enums import OrderSide
from grekko.domain.raw import RawMarketData, RawQuote, RawTrade
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.normalizer import Normalizer
from grekko.engines.ingest.service import IngestService
from grekko.engines.streamer import DataStreamer
from grekko.ports.market_data import OnChainPriceSource

USDC_IN = 5_000 * 10**6


def _pool(evm: EvmChain, uniswap: UniswapV2, base: str, quote: str) -> WatchedPool:
    contract_names = {"WETH": "WETH9"}
    base_address = evm.token(contract_names.get(base, base))
    quote_address = evm.token(contract_names.get(quote, quote))
    address = uniswap.pair(base_address, quote_address)
    assert address is not None
    return WatchedPool(
        address,
        "v2",
        f"{base}/{quote}",
        base_is_token0=int(base_address, 16) < int(quote_address, 16),
        base_decimals=uniswap.decimals(base_address),
        quote_decimals=uniswap.decimals(quote_address),
    )


def _pools(evm: EvmChain, uniswap: UniswapV2) -> tuple[WatchedPool, WatchedPool]:
    """WETH/USDC and UNI/WETH, as the conftest seeded them."""
    return _pool(evm, uniswap, "WETH", "USDC"), _pool(evm, uniswap, "UNI", "WETH")


def _trades(records: list[RawMarketData]) -> list[RawTrade]:
    return [r for r in records if isinstance(r, RawTrade)]


def _filled(result: object) -> SwapFill:
    assert isinstance(result, SwapFill), result
    return result


def _whole(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def _price_is(raw: RawTrade, quote_units: int, base_units: int, q_dec: int, b_dec: int) -> None:
    """The record's price, read back exactly, is quote per base of the fill to 1e-30."""
    exact = Fraction(quote_units * 10**b_dec, base_units * 10**q_dec)
    assert abs(Fraction(Decimal(str(raw.price))) / exact - 1) < Fraction(1, 10**30)


def _three_swaps(evm: EvmChain, uniswap: UniswapV2) -> tuple[SwapFill, SwapFill, SwapFill, int]:
    """USDC -> WETH (a buy of WETH), WETH -> USDC (a sell), then USDC -> WETH -> UNI through
    both pools; returns the fills and the WETH the middle hop of the last one carried."""
    usdc, weth, uni = evm.token("USDC"), evm.config.weth, evm.token("UNI")
    bought = _filled(uniswap.swap(USDC_IN, usdc, weth))
    sold = _filled(uniswap.swap(bought.amount_out // 2, weth, usdc))
    routed = uniswap.best_quote(USDC_IN, usdc, uni)
    assert routed.path == (usdc, weth, uni)
    two_hops = _filled(uniswap.swap(USDC_IN, usdc, uni))
    assert two_hops.amount_out == routed.amount_out  # nothing traded between quote and swap
    return bought, sold, two_hops, routed.amounts[1]


def test_swaps_come_out_of_a_poll_as_trades_with_the_fills_amounts(
    evm: EvmChain, uniswap: UniswapV2
) -> None:
    weth_usdc, uni_weth = _pools(evm, uniswap)
    watcher = ChainWatcher(evm.w3, [weth_usdc, uni_weth], start_block=evm.w3.eth.block_number + 1)
    assert isinstance(watcher, OnChainPriceSource)
    assert set(watcher.pools) == {weth_usdc.address, uni_weth.address}
    bought, sold, two_hops, middle = _three_swaps(evm, uniswap)

    records = watcher.poll_once()
    trades = _trades(records)
    assert [str(t.trade_id).split(":")[0] for t in trades] == [
        bought.tx_hash,
        sold.tx_hash,
        two_hops.tx_hash,
        two_hops.tx_hash,
    ]
    first, second, third, fourth = trades
    assert (first.venue, first.symbol, first.side) == ("uniswap_v2", "WETH/USDC", "buy")
    assert Decimal(str(first.amount)) == _whole(bought.amount_out, 18)
    _price_is(first, bought.amount_in, bought.amount_out, 6, 18)
    assert (second.symbol, second.side) == ("WETH/USDC", "sell")
    assert Decimal(str(second.amount)) == _whole(sold.amount_in, 18)
    _price_is(second, sold.amount_out, sold.amount_in, 6, 18)
    # the routed swap: WETH bought with USDC, then UNI bought with that WETH
    assert (third.symbol, third.side) == ("WETH/USDC", "buy")
    assert Decimal(str(third.amount)) == _whole(middle, 18)
    _price_is(third, two_hops.amount_in, middle, 6, 18)
    assert (fourth.symbol, fourth.side) == ("UNI/WETH", "buy")
    assert Decimal(str(fourth.amount)) == _whole(two_hops.amount_out, 18)
    _price_is(fourth, middle, two_hops.amount_out, 18, 18)
    blocks = [bought.block_number, sold.block_number, two_hops.block_number, two_hops.block_number]
    stamps = [int(evm.w3.eth.get_block(b)["timestamp"]) for b in blocks]
    assert [t.ts for t in trades] == stamps
    _quotes_follow_each_block(evm, records, uni_weth)
    assert watcher.poll_once() == []  # nothing new: nothing read twice


def _quotes_follow_each_block(
    evm: EvmChain, records: list[RawMarketData], uni_weth: WatchedPool
) -> None:
    """After each block's trades, one quote per pool the block moved, at its reserves then."""
    assert [(type(r).__name__, r.symbol) for r in records] == [
        ("RawTrade", "WETH/USDC"),
        ("RawQuote", "WETH/USDC"),
        ("RawTrade", "WETH/USDC"),
        ("RawQuote", "WETH/USDC"),
        ("RawTrade", "WETH/USDC"),
        ("RawTrade", "UNI/WETH"),
        ("RawQuote", "WETH/USDC"),
        ("RawQuote", "UNI/WETH"),
    ]
    last = records[-1]
    assert isinstance(last, RawQuote)
    address = Web3.to_checksum_address(uni_weth.address)
    pair = evm.w3.eth.contract(address=address, abi=evm.config.pair_abi)
    r0, r1, _ = pair.functions.getReserves().call()
    uni, weth = (r0, r1) if uni_weth.base_is_token0 else (r1, r0)
    assert last.bid == last.ask
    assert abs(Fraction(Decimal(str(last.bid))) / Fraction(weth, uni) - 1) < Fraction(1, 10**30)
    assert Decimal(str(last.bid_size)) == _whole(uni, 18)
    assert last.ts == records[-3].ts


def test_the_first_poll_quotes_every_pool_even_without_swaps(
    evm: EvmChain, uniswap: UniswapV2
) -> None:
    weth_usdc, uni_weth = _pools(evm, uniswap)
    watcher = ChainWatcher(evm.w3, [weth_usdc, uni_weth])
    records = watcher.poll_once()
    assert [(type(r), r.symbol) for r in records] == [
        (RawQuote, "WETH/USDC"),
        (RawQuote, "UNI/WETH"),
    ]
    # the conftest's pools: 2,000,000 USDC / 1,000 WETH and 200,000 UNI / 1,000 WETH
    first, second = records
    assert isinstance(first, RawQuote)
    assert isinstance(second, RawQuote)
    assert Decimal(str(first.bid)) == 2000
    assert Decimal(str(second.bid)) == Decimal("0.005")
    assert watcher.poll_once() == []
    assert watcher.next_block == evm.w3.eth.block_number + 1


def test_records_normalize_to_trade_ticks(evm: EvmChain, uniswap: UniswapV2) -> None:
    weth_usdc, uni_weth = _pools(evm, uniswap)
    watcher = ChainWatcher(evm.w3, [weth_usdc, uni_weth], start_block=evm.w3.eth.block_number + 1)
    bought, sold, _, _ = _three_swaps(evm, uniswap)
    trades = _trades(watcher.poll_once())
    normalizer = Normalizer()
    ticks = [normalizer.trade(t) for t in trades]
    assert [t.instrument_id for t in ticks] == [
        "WETH/USDC@uniswap_v2",
        "WETH/USDC@uniswap_v2",
        "WETH/USDC@uniswap_v2",
        "UNI/WETH@uniswap_v2",
    ]
    assert [t.aggressor for t in ticks] == [
        OrderSide.BUY,
        OrderSide.SELL,
        OrderSide.BUY,
        OrderSide.BUY,
    ]
    assert ticks[0].size == float(_whole(bought.amount_out, 18))
    assert ticks[1].price == float(Decimal(sold.amount_out).scaleb(-6) / _whole(sold.amount_in, 18))
    stamp = int(evm.w3.eth.get_block(bought.block_number)["timestamp"])
    assert ticks[0].ts_event == stamp * 10**9
    assert ticks[0].trade_id == trades[0].trade_id


def test_the_ingest_service_publishes_every_record(evm: EvmChain, uniswap: UniswapV2) -> None:
    """The watcher as a source of the real ingest service: every trade and quote is published,
    none quarantined, and stop() ends the stream."""
    weth_usdc, uni_weth = _pools(evm, uniswap)
    watcher = ChainWatcher(
        evm.w3, [weth_usdc, uni_weth], poll_s=0.05, start_block=evm.w3.eth.block_number + 1
    )
    _three_swaps(evm, uniswap)
    clock = LiveClock()
    bus = MessageBus()
    service = IngestService(
        bus=bus,
        clock=clock,
        data_engine=DataEngine(bus, Cache()),
        streamer=DataStreamer(bus, clock),
    )
    trades: list[object] = []
    quotes: list[object] = []
    bus.subscribe("data.trades.*", trades.append)
    bus.subscribe("data.quotes.*", quotes.append)
    service.add_source("chain", watcher)

    async def run() -> None:
        task = asyncio.create_task(service.run(tick_s=0.01))
        for _ in range(400):  # bounded: a broken source fails the test instead of hanging it
            if len(trades) >= 4 and len(quotes) >= 4:
                break
            await asyncio.sleep(0.01)
        watcher.stop()
        await asyncio.wait_for(task, 30)

    asyncio.run(run())
    metrics = service.streamer.metrics.stream("chain")
    assert metrics.quarantined_by_reason == {}
    assert (len(trades), len(quotes)) == (4, 4)
    assert metrics.received == metrics.published == 8
    assert service.source_failures == 0
