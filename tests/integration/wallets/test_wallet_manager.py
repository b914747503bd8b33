"""WalletManager over the real keystore wallet on a real anvil: loaded through the grekko.wallets
plugin group, its EIP-1193 events on the bus, balances per wallet, and a disconnected wallet
refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from web3 import Web3

from grekko.adapters.devnet.deploy import Deployer, contract_at, deploy_all, dev_account
from grekko.adapters.devnet.devnet import Devnet
from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.adapters.vault import LocalVault
from grekko.core.time import TestClock
from grekko.engines.bus import MessageBus
from grekko.engines.wallets import TokenSpec, WalletManager, WalletNotice
from grekko.plugins import PluginContext, PluginManager
from grekko.ports.wallet import ChainInfo, TxRequest, WalletError

FAST_SCRYPT_N = 2**14


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Web3, ChainInfo, Any]]:
    data_dir = tmp_path_factory.mktemp("manager-chain")
    devnet = Devnet(data_dir)
    info = devnet.up()
    try:
        w3 = Web3(Web3.HTTPProvider(info.rpc_url, request_kwargs={"timeout": 30}))
        yield w3, ChainInfo(info.chain_id, "devnet", info.rpc_url), deploy_all(w3, data_dir)
    finally:
        devnet.down()


class Desk:
    def __init__(self, data_dir: Path, chain: ChainInfo, vault: LocalVault | None = None) -> None:
        self.bus = MessageBus()
        self.heard: list[tuple[str, WalletNotice]] = []
        self.bus.subscribe("wallet.*", lambda n: self.heard.append((n.event, n)))
        self.wallets = WalletManager(self.bus, TestClock(1))
        if vault is None:
            engine = build_engine(f"sqlite:///{data_dir / 'vault.db'}")
            upgrade_to_head(engine)
            vault = LocalVault(engine, os.urandom(32))
        self.vault = vault
        extras = {
            "wallets": self.wallets,
            "secrets": vault,
            "data_dir": data_dir,
            "chains": [chain],
            "scrypt_n": FAST_SCRYPT_N,
        }
        self.plugins = PluginManager()
        ctx = PluginContext(self.bus, TestClock(1), None, MappingProxyType(extras))
        self.plugin = self.plugins.start("grekko.wallets", "keystore", ctx)


@pytest.fixture
def desk(tmp_path: Path, node: tuple[Web3, ChainInfo, Any]) -> Desk:
    return Desk(tmp_path, node[1])


def test_the_keystore_wallet_is_a_grekko_wallets_plugin(desk: Desk) -> None:
    names = {info.name for info in desk.plugins.discover("grekko.wallets")}
    assert "keystore" in names
    assert desk.wallets.provider_ids() == ["keystore"]
    wallet = desk.wallets.connected("keystore")
    assert wallet.get_accounts() == [desk.plugin.wallet.address]
    # connecting put connect and accountsChanged on the bus
    events = [event for event, _ in desk.heard]
    assert "connect" in events
    assert ("accountsChanged", [wallet.get_accounts()[0]]) in [
        (e, n.payload) for e, n in desk.heard
    ]
    assert all(n.provider_id == "keystore" for _, n in desk.heard)


def test_the_same_wallet_opens_again_from_the_data_dir(
    tmp_path: Path, node: tuple[Web3, ChainInfo, Any]
) -> None:
    first = Desk(tmp_path, node[1])
    address = first.plugin.wallet.address
    first.plugins.stop(first.plugin)
    assert first.wallets.provider_ids() == []  # stopping the plugin takes the wallet out

    again = Desk(tmp_path, node[1], first.vault)  # a restart: same data dir, same vault

    assert again.plugin.wallet.address == address
    assert again.wallets.connected("keystore").get_accounts() == [address]


def test_balances_per_wallet_in_whole_units(desk: Desk, node: tuple[Web3, ChainInfo, Any]) -> None:
    w3, chain, deployment = node
    address = desk.plugin.wallet.address
    w3.provider.make_request("anvil_setBalance", [address, hex(3 * 10**18)])  # type: ignore[arg-type]
    usdc = contract_at(w3, "USDC", deployment.contracts["USDC"])
    Deployer(w3, dev_account()).call(usdc, "transfer", address, 1_234_500_000)
    tokens = {chain.chain_id: [TokenSpec(chain.chain_id, "USDC", usdc.address, 6)]}

    held = desk.wallets.balances(tokens)

    assert held == {"keystore": {address: {"ETH": Decimal(3), "USDC": Decimal("1234.5")}}}


def test_a_disconnected_wallet_signs_nothing_and_says_so_on_the_bus(desk: Desk) -> None:
    desk.wallets.get("keystore").disconnect()

    with pytest.raises(WalletError, match="not connected"):
        desk.wallets.sign_message("keystore", "hello")
    with pytest.raises(WalletError, match="not connected"):
        desk.wallets.send_transaction("keystore", TxRequest(to=dev_account().address, value=1))
    assert desk.wallets.balances() == {"keystore": {}}
    assert [e for e, _ in desk.heard][-2:] == ["accountsChanged", "disconnect"]


def test_unregistering_stops_the_relay_and_refuses_unknown_ids(desk: Desk) -> None:
    wallet = desk.wallets.unregister("keystore")
    heard = len(desk.heard)
    wallet.connect()  # events of a wallet the manager let go reach nobody
    assert len(desk.heard) == heard
    with pytest.raises(WalletError, match="no wallet 'keystore'"):
        desk.wallets.get("keystore")
    wallet.disconnect()
