"""CDP keys made per test, kept in a real LocalVault (SQLite), and a client for the local Coinbase."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coinbase_trading_server import CoinbaseTradingServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from grekko.adapters.ccxt.coinbase_auth import CredentialNames
from grekko.adapters.ccxt.trading import CoinbaseTrading, open_coinbase_trading
from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.adapters.vault import LocalVault

KEY_NAME = "organizations/4f2b9c1e-7a3d-4e8f-9b0c-1d2e3f4a5b6c/apiKeys/8c7d6e5f-4a3b-2c1d-0e9f-8a7b6c5d4e3f"
NAMES = CredentialNames()


@dataclass(frozen=True)
class CdpKey:
    name: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        """As the CDP portal hands it out: SEC1 'EC PRIVATE KEY' PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode("ascii")


def new_key(name: str = KEY_NAME) -> CdpKey:
    return CdpKey(name, ec.generate_private_key(ec.SECP256R1()))


def new_vault(tmp_path: Path, key: CdpKey, db: str = "grekko.db") -> LocalVault:
    engine = build_engine(f"sqlite:///{tmp_path / db}")
    upgrade_to_head(engine)
    vault = LocalVault(engine, bytes(range(32)))
    vault.put(NAMES.api_key, key.name)
    vault.put(NAMES.api_secret, key.pem)
    return vault


def connect(vault: LocalVault, server: CoinbaseTradingServer) -> CoinbaseTrading:
    return open_coinbase_trading(
        vault, api_urls={"rest": server.rest_url}, config={"enableRateLimit": False}
    )
