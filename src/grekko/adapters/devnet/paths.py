"""Where the npm project of the devnet lives (chain/ beside src/), and its anvil binary.

Nothing from npm is copied into the repository: anvil and the protocol artifacts are read straight
from chain/node_modules, which `make install` fills from the pinned chain/package-lock.json.
"""

from __future__ import annotations

import os
from pathlib import Path

from grekko.core.errors import GrekkoError

CHAIN_DIR_ENV = "GREKKO_CHAIN_DIR"
ANVIL_RELATIVE = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


class ChainError(GrekkoError):
    """The devnet or its contracts cannot be used: a missing install, a dead node, a bad deploy."""


def chain_dir() -> Path:
    """$GREKKO_CHAIN_DIR, else the chain/ folder of the source checkout this package runs from."""
    override = os.environ.get(CHAIN_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[4] / "chain"


def anvil_binary(chain: Path | None = None) -> Path:
    path = (chain or chain_dir()) / ANVIL_RELATIVE
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ChainError(
            f"the anvil binary is missing at {path}: run `make install` (it runs `npm ci` in "
            f"chain/, which installs the pinned @foundry-rs/anvil-linux-amd64)"
        )
    return path


def require_file(path: Path, how: str) -> Path:
    if not path.is_file():
        raise ChainError(f"{path} is missing: {how}")
    return path
