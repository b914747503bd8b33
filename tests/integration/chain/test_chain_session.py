"""`grekko up`'s chain side in a real paper session: a devnet with the real contracts, pools seeded
at the replay's prices that follow the replayed market, pool swaps arriving as trade ticks, a DEX
order filled by a real swap, on-chain balances in the account, and a restart that finds it all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from grekko.adapters.devnet.market_pools import find_market_pools, pool_price
from grekko.bootstrap import build_paper_session
from grekko.bootstrap.chain import sync_balances
from grekko.domain.commands import SubmitOrder
from grekko.domain.enums import OrderSide, OrderStatus, OrderType
from grekko.paper.session import PaperSession
from grekko.settings import load_settings

BARS = 120
SPEED = 40.0  # bars per second: about as fast as `grekko up`'s 20, so the mirror keeps up
ENV = {"GREKKO_CHAIN__ENABLED": "true", "GREKKO_AGENTS__ENABLED": "[]"}
WETH_USDC = "WETH/USDC@uniswap"


def _session(data_dir: Path, bars: int) -> PaperSession:
    return build_paper_session(load_settings(data_dir, env=ENV), speed=SPEED, max_bars=bars)


def _settle(session: PaperSession, done: object = None, timeout_s: float = 30) -> None:
    """Bring back what the chain threads produced (the replay is over, so no bar drains it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        session.chain.handoff.drain()
        if callable(done) and done():
            return
        if done is None:
            return
        time.sleep(0.05)
    raise AssertionError("the chain did not answer in time")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PaperSession, Path]]:
    data_dir = tmp_path_factory.mktemp("chain-session")
    session = _session(data_dir, BARS)
    try:
        session.run(threading.Event())
        chain = session.chain
        time.sleep(1.0)  # the mirror's last alignment is sent

        def caught_up() -> bool:
            return bool(chain.watcher.next_block > chain.w3.eth.block_number)

        _settle(session, caught_up)
        time.sleep(0.2)
        _settle(session)
        yield session, data_dir
    finally:
        session.close()


def _close(session: PaperSession, iid: str) -> Decimal:
    return Decimal(repr(session.kernel.cache.last_bar[iid].close))


def test_pools_follow_the_replayed_market(ran: tuple[PaperSession, Path]) -> None:
    session, _ = ran
    chain = session.chain
    eth, btc = _close(session, "ETH/USDT@paper"), _close(session, "BTC/USDT@paper")
    pools = {(p.venue, p.symbol): p for p in find_market_pools(chain.w3, chain.deployment)}
    assert {s for _, s in pools} == {"WETH/USDC", "WBTC/USDC", "WBTC/WETH", "UNI/WETH"}
    assert {v for v, _ in pools} == {"uniswap_v2", "uniswap_v3"}
    for (_venue, symbol), pool in pools.items():
        target = {"WETH/USDC": eth, "WBTC/USDC": btc, "WBTC/WETH": btc / eth}.get(symbol)
        if target is None:
            continue
        price = (
            Decimal(pool_price(chain.w3, pool).numerator) / pool_price(chain.w3, pool).denominator
        )
        # the mirror aligns at most a bar behind the replay; a minute moves these well under 1 %
        assert abs(price / target - 1) < Decimal("0.01"), (symbol, price, target)


def test_pool_swaps_are_trade_ticks_of_the_venue_instruments(
    ran: tuple[PaperSession, Path],
) -> None:
    session, _ = ran
    tick = session.kernel.cache.last_trade.get(WETH_USDC)
    assert tick is not None, "no swap of the WETH/USDC pools reached the data pipeline"
    eth = float(_close(session, "ETH/USDT@paper"))
    assert abs(tick.price / eth - 1) < 0.01
    assert list(session.chain.watcher.quarantine.recent) == []  # every record passed validation


def test_a_dex_order_fills_by_a_swap_and_the_books_match_the_chain(
    ran: tuple[PaperSession, Path],
) -> None:
    session, _ = ran
    kernel, chain = session.kernel, session.chain
    kernel.risk.execute(
        SubmitOrder(
            ts_init=kernel.clock.timestamp_ns(),
            client_order_id="dex-test-1",
            strategy_id="manual",
            instrument_id=WETH_USDC,
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=Decimal("0.5"),
        )
    )
    order = kernel.cache.orders["dex-test-1"]
    _settle(session, lambda: order.is_terminal)
    assert order.status is OrderStatus.FILLED, order.events[-1]
    weth = chain.w3.eth.contract(address=chain.tokens["WETH"], abi=_balance_abi())
    assert weth.functions.balanceOf(chain.wallet.address).call() == 5 * 10**17
    # gas was booked in USDC at the fill; syncing moves it to ETH, where the chain paid it
    changes = sync_balances(
        kernel, chain.w3, chain.wallet.address, chain.tokens, chain.venue.markets
    )
    assert set(changes) <= {"ETH", "USDC"}
    assert changes.get("ETH", Decimal(0)) < 0
    assert (
        sync_balances(kernel, chain.w3, chain.wallet.address, chain.tokens, chain.venue.markets)
        == {}
    )
    assert kernel.portfolio.account.total("WETH") == Decimal("0.5")


def test_a_node_elsewhere_is_traded_with_configured_addresses(
    ran: tuple[PaperSession, Path], tmp_path: Path
) -> None:
    """chain.rpc_url with chain.contracts/tokens, as for a fork or a real network: no anvil is
    started and nothing deployed; here the node is the first session's devnet."""
    session, _ = ran
    chain = session.chain
    contracts = dict(chain.deployment.contracts)
    names = ("WETH9", "UniswapV2Router02", "UniswapV2Factory", "UniswapV3Factory")
    lines = ["[chain]", f'rpc_url = "{chain.rpc_url}"', "mirror = false", "[chain.contracts]"]
    lines += [f'{name} = "{contracts[name]}"' for name in (*names, "SwapRouter", "QuoterV2")]
    lines += ["[chain.tokens]", f'USDC = "{contracts["USDC"]}"']
    (tmp_path / "grekko.toml").write_text("\n".join(lines) + "\n")
    elsewhere = _session(tmp_path, 5)
    try:
        assert elsewhere.chain.devnet is None
        assert elsewhere.chain.deployment is None
        assert set(elsewhere.chain.venue.router.protocols) == {"uniswap_v2", "uniswap_v3"}
        assert set(elsewhere.chain.venue.markets) == {WETH_USDC}
        assert not (tmp_path / "devnet").exists()
    finally:
        elsewhere.close()


def test_a_restart_finds_the_contracts_the_wallet_and_the_balances(
    ran: tuple[PaperSession, Path],
) -> None:
    session, data_dir = ran
    address, contracts = session.chain.wallet.address, dict(session.chain.deployment.contracts)
    totals = dict(session.kernel.portfolio.account.totals)
    session.close()  # the last test of the module: it stops the first devnet
    again = _session(data_dir, BARS + 5)
    try:
        assert again.chain.wallet.address == address
        assert dict(again.chain.deployment.contracts) == contracts
        assert again.chain.deployment.deployed == ()
        for currency in ("ETH", "USDC", "WETH"):
            assert again.kernel.portfolio.account.total(currency) == totals[currency]
    finally:
        again.close()


def _balance_abi() -> list[dict[str, object]]:
    return [
        {
            "name": "balanceOf",
            "type": "function",
            "stateMutability": "view",
            "inputs": [{"name": "a", "type": "address"}],
            "outputs": [{"name": "b", "type": "uint256"}],
        }
    ]
