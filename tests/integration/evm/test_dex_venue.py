"""The DEX venue inside a real kernel: orders go through the risk engine and the execution engine
to real Uniswap V2 swaps on anvil, and come back as fills (or rejections) the portfolio books."""

from __future__ import annotations

from decimal import Decimal

import pytest
from evm_chain_support import EvmChain

from grekko.adapters.devnet.deploy import contract_at
from grekko.adapters.evm import UniswapV2
from grekko.adapters.evm.routing import DexRouter
from grekko.adapters.evm.venue import DexMarket, DexVenue, DexVenueConfig
from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.core.time import TestClock
from grekko.domain.commands import SubmitOrder
from grekko.domain.data import TradeTick
from grekko.domain.enums import OrderSide, OrderStatus, OrderType
from grekko.domain.instruments import spot
from grekko.domain.risk import RiskLimits
from grekko.engines.kernel import Kernel

IID = "WETH/USDC@uniswap"
START_NS = 1_700_000_000 * 10**9


class Desk:
    def __init__(self, evm: EvmChain, account_usdc: Decimal) -> None:
        self.evm = evm
        limits = RiskLimits(max_order_notional=Decimal(10**12))
        self.kernel = Kernel(
            TestClock(START_NS), InMemoryEventStore(), cash_currency="USDC", limits=limits
        )
        self.kernel.add_instrument(
            spot("WETH/USDC", venue="uniswap", price_increment="0.01", size_increment="0.0001")
        )
        router = DexRouter({"uniswap_v2": UniswapV2(evm.w3, evm.config, evm.wallet)})
        market = DexMarket(evm.token("WETH9"), evm.token("USDC"), 18, 6)
        config = DexVenueConfig(weth=evm.token("WETH9"))
        clock = self.kernel.clock
        self.venue = DexVenue(config, router, {IID: market}, self.kernel.cache.instrument, clock)
        self.kernel.add_venue(self.venue)
        self.kernel.fund("USDC", account_usdc)
        self.kernel.data.process_trade(TradeTick(IID, 2000.0, 1.0, OrderSide.BUY, "seed", START_NS))
        self.count = 0

    def order(
        self,
        side: OrderSide,
        qty: str,
        kind: OrderType = OrderType.MARKET,
        price: str | None = None,
    ) -> str:
        self.count += 1
        cid = f"dex-{self.count}"
        self.kernel.risk.execute(
            SubmitOrder(
                ts_init=START_NS,
                client_order_id=cid,
                strategy_id="manual",
                instrument_id=IID,
                side=side,
                order_type=kind,
                quantity=Decimal(qty),
                price=Decimal(price) if price is not None else None,
            )
        )
        return cid

    def status(self, cid: str) -> OrderStatus:
        return self.kernel.cache.orders[cid].status

    def reason(self, cid: str) -> str:
        return str(self.kernel.cache.orders[cid].events[-1])

    def weth(self) -> int:
        token = contract_at(self.evm.w3, "WETH9", self.evm.token("WETH9"))
        return int(token.functions.balanceOf(self.evm.wallet.address).call())


@pytest.fixture
def desk(evm: EvmChain) -> Desk:
    return Desk(evm, Decimal(100_000))


def test_a_market_buy_receives_exactly_its_quantity_on_chain(desk: Desk) -> None:
    cid = desk.order(OrderSide.BUY, "1.5")

    assert desk.status(cid) is OrderStatus.FILLED, desk.reason(cid)
    assert desk.weth() == 15 * 10**17
    order = desk.kernel.cache.orders[cid]
    assert order.filled_qty == Decimal("1.5")
    assert Decimal(1990) < order.avg_px < Decimal(2020)  # 2000 USDC/ETH pool, 0.3% fee
    fill = order.events[-1]
    assert fill.venue_order_id.startswith("0x")
    receipt = desk.evm.w3.eth.get_transaction_receipt(fill.venue_order_id)
    gas_eth = Decimal(receipt["gasUsed"] * receipt["effectiveGasPrice"]).scaleb(-18)
    assert fill.fee > 0
    assert fill.fee == fill.fee.quantize(Decimal("0.000001"))  # whole USDC base units
    assert abs(fill.fee - gas_eth * order.avg_px) / fill.fee < Decimal("0.01")
    assert desk.kernel.portfolio.position_qty(IID) == Decimal("1.5")
    assert desk.kernel.portfolio.account.total("WETH") == Decimal("1.5")


def test_a_market_sell_spends_exactly_its_quantity(desk: Desk) -> None:
    desk.order(OrderSide.BUY, "2")
    cid = desk.order(OrderSide.SELL, "0.5")

    assert desk.status(cid) is OrderStatus.FILLED, desk.reason(cid)
    assert desk.weth() == 15 * 10**17
    assert desk.kernel.portfolio.position_qty(IID) == Decimal("1.5")


def test_a_limit_the_pool_cannot_reach_is_rejected_and_nothing_is_sent(desk: Desk) -> None:
    nonce = desk.evm.w3.eth.get_transaction_count(desk.evm.wallet.address)
    cid = desk.order(OrderSide.BUY, "1", OrderType.LIMIT, "1950")

    assert desk.status(cid) is OrderStatus.REJECTED
    assert "limit 1950 not reachable" in desk.reason(cid)
    assert desk.evm.w3.eth.get_transaction_count(desk.evm.wallet.address) == nonce


def test_a_limit_within_reach_fills_no_worse_than_its_price(desk: Desk) -> None:
    cid = desk.order(OrderSide.BUY, "1", OrderType.LIMIT, "2020")

    assert desk.status(cid) is OrderStatus.FILLED, desk.reason(cid)
    assert desk.kernel.cache.orders[cid].avg_px <= Decimal(2020)


def test_a_swap_the_chain_refuses_is_rejected_with_the_routers_reason(evm: EvmChain) -> None:
    desk = Desk(evm, Decimal(1_000_000))  # the book thinks it has more USDC than the wallet holds
    cid = desk.order(OrderSide.BUY, "80")  # about 170k USDC; the wallet has 100k

    assert desk.status(cid) is OrderStatus.REJECTED, desk.reason(cid)
    assert "swap reverted" in desk.reason(cid)
    assert "TRANSFER_FROM_FAILED" in desk.reason(cid)
    assert desk.weth() == 0
    assert desk.kernel.portfolio.position_qty(IID) == 0


def test_more_than_the_pool_holds_is_rejected_as_no_route(desk: Desk) -> None:
    desk.kernel.fund("USDC", Decimal(10**12))
    cid = desk.order(OrderSide.BUY, "5000")  # the pool holds 1000 WETH

    assert desk.status(cid) is OrderStatus.REJECTED, desk.reason(cid)
    assert "deep enough" in desk.reason(cid)
