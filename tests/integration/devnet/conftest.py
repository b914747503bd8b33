"""A real anvil for the chain tests: one node per test session, with the devnet contracts deployed
once, and every test wrapped in evm_snapshot / evm_revert so none sees another's transactions.

A missing anvil binary fails the run: the chain tests are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from grekko.adapters.devnet.deploy import Deployment, deploy_all
from grekko.adapters.devnet.devnet import Devnet, DevnetInfo
from grekko.adapters.devnet.paths import anvil_binary


@pytest.fixture(scope="session")
def anvil_path() -> Path:
    """Raises ChainError (naming `make install`) when chain/node_modules has no anvil."""
    return anvil_binary()


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chain-session")


@pytest.fixture(scope="session")
def session_devnet(anvil_path: Path, session_data_dir: Path) -> Iterator[DevnetInfo]:
    devnet = Devnet(session_data_dir)
    info = devnet.up()
    try:
        yield info
    finally:
        devnet.down()


@pytest.fixture(scope="session")
def session_w3(session_devnet: DevnetInfo) -> Web3:
    w3 = Web3(Web3.HTTPProvider(session_devnet.rpc_url, request_kwargs={"timeout": 30}))
    assert w3.is_connected()
    return w3


@pytest.fixture(scope="session")
def session_deployment(session_w3: Web3, session_data_dir: Path) -> Deployment:
    return deploy_all(session_w3, session_data_dir)


@pytest.fixture
def w3(session_w3: Web3) -> Iterator[Web3]:
    """The session node, rolled back after the test to where it was before."""
    snapshot = session_w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield session_w3
    finally:
        reverted = session_w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        assert reverted["result"] is True, reverted
