"""Real Uniswap V2 swaps as an on-chain price source, through the ingest pipeline."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from grekko.adapters.files.swaps import UniswapV2SwapReplay, swap_trade
from grekko.core.errors import DataError
from grekko.core.time import TestClock
from grekko.domain.raw import RawTrade
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.service import IngestService
from grekko.engines.streamer import DataStreamer
from grekko.ports.market_data import OnChainPriceSource, price_from_reserves
from shared_data import shared_file

HEAD = (
    Path(__file__).resolve().parents[3]
    / "fixtures"
    / "swaps"
    / "uniswap_v2_UNI_WETH_swaps_head60.csv.gz"
)
POOL = "0xd3d2e2692501a5c9ca623199d38826e513033a17"


def run(path: Path) -> tuple[IngestService, list[object]]:
    clock = TestClock(1_700_000_000 * 10**9)
    bus = MessageBus()
    service = IngestService(
        bus=bus,
        clock=clock,
        data_engine=DataEngine(bus, Cache()),
        streamer=DataStreamer(bus, clock),
    )
    trades: list[object] = []
    bus.subscribe("data.trades.*", trades.append)
    service.add_source("uni", UniswapV2SwapReplay(path))
    asyncio.run(service.run(tick_s=0.01))
    return service, trades


def test_the_first_real_swap_is_a_sell_of_uni_at_the_pools_price() -> None:
    source = UniswapV2SwapReplay(HEAD)
    assert isinstance(source, OnChainPriceSource)
    assert source.pools == (POOL,)
    assert source.symbol == "UNI/WETH"
    first = swap_trade(source._rows[0], "uniswap_v2", "UNI/WETH")
    # 284.51 UNI in, 2.6122 WETH out: the trader sold UNI at 2.6122 / 284.51 WETH each
    assert first.side == "sell"
    assert Decimal(str(first.amount)) == Decimal("284.510602369951156695")
    assert Decimal(str(first.price)) == Decimal("2.612159158082853894") / Decimal(
        "284.510602369951156695"
    )
    assert first.ts == "1623654187"


def test_swaps_flow_through_the_pipeline_as_trades() -> None:
    service, trades = run(HEAD)
    metrics = service.streamer.metrics.stream("uni")
    assert metrics.received == 60
    assert metrics.published == 60 - metrics.quarantined
    assert metrics.quarantined_by_reason == {}
    prices = [t.price for t in trades]  # type: ignore[attr-defined]
    assert all(0.008 < p < 0.0105 for p in prices)  # ≈ 0.0092 WETH per UNI (the README)


def test_a_malformed_swap_row_is_quarantined_not_raised() -> None:
    row = {
        "amount0In": "abc",
        "amount0Out": "0",
        "amount1In": "1",
        "amount1Out": "0",
        "timestamp": "1623654187",
        "id": "x",
    }
    raw = swap_trade(row, "uniswap_v2", "UNI/WETH")
    assert raw == RawTrade("uniswap_v2", "UNI/WETH", None, None, None, "1623654187", "x")


def test_a_file_that_is_not_a_swap_export_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not a Uniswap V2 swaps export"):
        UniswapV2SwapReplay(path)


@pytest.mark.shared
def test_every_real_swap_of_the_shared_export() -> None:
    _, trades = run(shared_file("uniswap_v2_swaps", "uniswap_v2_UNI_WETH_swaps.csv"))
    assert len(trades) == 1400


def test_price_from_pool_reserves() -> None:
    # the export's pool reserves at scrape time: 2,310,839.57 UNI and 21,513.77 WETH
    reserve_uni = int(Decimal("2310839.566758256905104204") * 10**18)
    reserve_weth = int(Decimal("21513.772193270058554304") * 10**18)
    assert price_from_reserves(reserve_uni, reserve_weth, 18, 18) == pytest.approx(
        0.00931, rel=1e-3
    )
    with pytest.raises(ValueError, match="positive"):
        price_from_reserves(0, reserve_weth, 18, 18)
