"""The devnet process on a real anvil: up, status, down, up again with the chain intact, reset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from grekko.adapters.devnet.deploy import deploy_all, dev_account
from grekko.adapters.devnet.devnet import DEVNET_CHAIN_ID, Devnet, pid_alive
from grekko.adapters.devnet.paths import ChainError


def _w3(devnet: Devnet) -> Web3:
    info = devnet.info()
    assert info is not None
    return Web3(Web3.HTTPProvider(info.rpc_url))


def test_up_status_down(anvil_path: Path, tmp_path: Path) -> None:
    devnet = Devnet(tmp_path)
    assert devnet.status().running is False
    info = devnet.up()
    try:
        assert Devnet(tmp_path).up() == info  # a second up finds the running node
        status = Devnet(tmp_path).status()
        assert status.running
        assert (status.pid, status.port, status.chain_id) == (info.pid, info.port, DEVNET_CHAIN_ID)
        assert status.rpc_url == f"http://127.0.0.1:{info.port}"
        assert status.block_number == 0
        recorded = json.loads(devnet.info_path.read_text())
        assert recorded["pid"] == info.pid
        assert recorded["port"] == info.port
    finally:
        assert devnet.down() is True
    assert not pid_alive(info.pid)
    assert not devnet.info_path.exists()
    assert devnet.status().running is False
    assert devnet.down() is False  # nothing left to stop


def test_chain_survives_down_and_up(anvil_path: Path, tmp_path: Path) -> None:
    devnet = Devnet(tmp_path)
    devnet.up()
    try:
        w3 = _w3(devnet)
        first = deploy_all(w3, tmp_path)
        me, friend = dev_account(0), Web3.to_checksum_address("0x" + "ab" * 20)
        tx: dict[str, Any] = {"to": friend, "value": 12345, "gas": 21000}
        tx |= {"gasPrice": w3.eth.gas_price}
        tx |= {"nonce": w3.eth.get_transaction_count(me.address), "chainId": w3.eth.chain_id}
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(me.sign_transaction(tx).raw_transaction)
        )
        code = w3.eth.get_code(first.contracts["UniswapV2Router02"])
        blocks = w3.eth.block_number
    finally:
        devnet.down()
    assert devnet.state_path.is_file()  # written by anvil on SIGTERM

    devnet.up()
    try:
        w3 = _w3(devnet)
        assert w3.eth.block_number == blocks
        assert w3.eth.get_balance(friend) == 12345
        assert w3.eth.get_code(first.contracts["UniswapV2Router02"]) == code
        again = deploy_all(w3, tmp_path)  # same genesis: the records are found and trusted
        assert again.deployed == ()
        assert again.contracts == first.contracts
    finally:
        devnet.down()


def test_reset_forgets_the_chain(anvil_path: Path, tmp_path: Path) -> None:
    devnet = Devnet(tmp_path)
    devnet.up()
    try:
        first = deploy_all(_w3(devnet), tmp_path)
    finally:
        devnet.reset()
    assert not devnet.state_path.exists()
    assert not devnet.deployments_path.exists()
    devnet.up()
    try:
        w3 = _w3(devnet)
        assert w3.eth.block_number == 0
        assert w3.eth.get_code(first.contracts["WETH9"]) == b""
        fresh = deploy_all(w3, tmp_path)
        assert set(fresh.deployed) == set(first.contracts)
    finally:
        devnet.reset()


def test_records_of_a_lost_chain_are_not_trusted(anvil_path: Path, tmp_path: Path) -> None:
    """Genesis has one-second resolution, so a chain restarted from nothing within the same second
    can share the old genesis hash: the code check must catch what the key cannot."""
    devnet = Devnet(tmp_path)
    devnet.up()
    try:
        first = deploy_all(_w3(devnet), tmp_path)
        records = devnet.deployments_path.read_text()
    finally:
        devnet.reset()
    devnet.deployments_path.write_text(records)  # the state is gone, its records are back
    devnet.up()
    try:
        w3 = _w3(devnet)
        fresh = deploy_all(w3, tmp_path)
        assert set(fresh.deployed) == set(first.contracts)
        for address in fresh.contracts.values():
            assert len(w3.eth.get_code(address)) > 0
    finally:
        devnet.reset()


def test_stale_pid_file_is_not_a_running_node(anvil_path: Path, tmp_path: Path) -> None:
    devnet = Devnet(tmp_path)
    devnet.dir.mkdir(parents=True)
    dead_pid = 2**22 + 17  # above Linux's largest pid_max: no such process
    dead = {"pid": dead_pid, "port": 1, "chain_id": DEVNET_CHAIN_ID, "binary": str(anvil_path)}
    devnet.info_path.write_text(json.dumps(dead))
    assert devnet.status().running is False
    info = devnet.up()
    try:
        assert info.pid != dead_pid
        assert devnet.status().running
    finally:
        devnet.down()


def test_missing_anvil_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match="make install"):
        Devnet(tmp_path / "data", chain=tmp_path / "no-chain").up()
