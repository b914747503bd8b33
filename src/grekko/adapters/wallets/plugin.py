"""The keystore wallet as a plugin (entry point grekko.wallets:keystore), loaded like any wallet.

The context's extras carry what it needs: `wallets` (the WalletManager to join), `secrets` (the
SecretStore holding the keystore password), `data_dir` and `chains` (ChainInfo list). The first
start creates the platform's keystore and remembers its address; later starts open the same one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from grekko.adapters.wallets.keystore import KEYSTORE_DIR, KeystoreWallet
from grekko.core.errors import PluginError

log = logging.getLogger(__name__)

PASSWORD_SECRET = "wallet/keystore/default"  # noqa: S105 - the secret's name, not its value
DEFAULT_POINTER = "default-address"


def open_default_wallet(
    data_dir: Path, secrets: Any, chains: list[Any], *, scrypt_n: int | None = None
) -> KeystoreWallet:
    """The platform's own signer: one keystore in the data dir, its password in the vault."""
    pointer = Path(data_dir) / KEYSTORE_DIR / DEFAULT_POINTER
    if pointer.exists():
        address = pointer.read_text().strip()
        return KeystoreWallet.open(data_dir, address, secrets, PASSWORD_SECRET, chains)
    if scrypt_n is None:
        wallet = KeystoreWallet.create(data_dir, secrets, PASSWORD_SECRET, chains)
    else:
        wallet = KeystoreWallet.create(
            data_dir, secrets, PASSWORD_SECRET, chains, scrypt_n=scrypt_n
        )
    pointer.write_text(wallet.address + "\n")
    log.info("created the platform wallet %s", wallet.address)
    return wallet


class KeystoreWalletPlugin:
    name = "keystore"

    def __init__(self) -> None:
        self.wallet: KeystoreWallet | None = None
        self._manager: Any = None

    def initialize(self, ctx: Any) -> None:
        extras = ctx.extras
        missing = [k for k in ("wallets", "secrets", "data_dir", "chains") if k not in extras]
        if missing:
            raise PluginError(f"the keystore wallet plugin needs extras {', '.join(missing)}")
        self._manager = extras["wallets"]
        self.wallet = open_default_wallet(
            extras["data_dir"], extras["secrets"], list(extras["chains"]),
            scrypt_n=extras.get("scrypt_n"),
        )  # fmt: skip

    def activate(self) -> None:
        if self.wallet is None:
            raise PluginError("the keystore wallet plugin was not initialized")
        self._manager.register(self.wallet)
        self.wallet.connect()

    def deactivate(self) -> None:
        if self.wallet is not None:
            self._manager.unregister(self.wallet.provider_id)

    def dispose(self) -> None:
        self.wallet = None
        self._manager = None
