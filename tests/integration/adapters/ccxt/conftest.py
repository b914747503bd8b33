"""Fixtures: a CDP key per test, in a real LocalVault, and the local Coinbase that checks it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from coinbase_trading_server import CoinbaseTradingServer
from coinbase_trading_support import CdpKey, connect, new_key, new_vault

from grekko.adapters.ccxt.trading import CoinbaseTrading
from grekko.adapters.vault import LocalVault


@pytest.fixture
def cdp_key() -> CdpKey:
    return new_key()


@pytest.fixture
def vault(tmp_path: Path, cdp_key: CdpKey) -> LocalVault:
    return new_vault(tmp_path, cdp_key)


@pytest.fixture
def server(cdp_key: CdpKey) -> Iterator[CoinbaseTradingServer]:
    with CoinbaseTradingServer(cdp_key.name, cdp_key.private_key.public_key()) as running:
        yield running


@pytest.fixture
def client(vault: LocalVault, server: CoinbaseTradingServer) -> Iterator[CoinbaseTrading]:
    with connect(vault, server) as opened:
        yield opened
