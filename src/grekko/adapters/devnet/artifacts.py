"""Contract artifacts (abi + creation bytecode) read from the pinned npm packages in chain/.

The protocol contracts are deployed from the very bytecode their authors published, never
recompiled; only our own contracts (contracts/*.sol) are compiled, by `npm run build` in chain/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from grekko.adapters.devnet.paths import ChainError, chain_dir, require_file

ARTIFACT_PATHS: dict[str, str] = {
    "WETH9": "node_modules/canonical-weth/build/contracts/WETH9.json",
    "UniswapV2Factory": "node_modules/@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "node_modules/@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "node_modules/@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "GrekkoToken": "build/GrekkoToken.json",
}


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, 0x-prefixed hex
    source: Path


def _hex(code: object, source: Path) -> str:
    if isinstance(code, dict):  # solc standard JSON keeps it under evm.bytecode.object
        code = code.get("object")
    if not isinstance(code, str) or not code.removeprefix("0x"):
        raise ChainError(f"{source} has no creation bytecode")
    text = code.removeprefix("0x")
    if "__" in text:
        raise ChainError(f"{source} needs library linking, which the devnet does not do")
    return "0x" + text


def load_artifact(name: str, chain: Path | None = None) -> Artifact:
    if name not in ARTIFACT_PATHS:
        raise ChainError(f"unknown artifact {name!r}; known: {', '.join(sorted(ARTIFACT_PATHS))}")
    relative = ARTIFACT_PATHS[name]
    how = (
        "run `make install` (it runs `npm run build` in chain/ to compile contracts/)"
        if relative.startswith("build/")
        else "run `make install` (it runs `npm ci` in chain/)"
    )
    path = require_file((chain or chain_dir()) / relative, how)
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise ChainError(f"{path} is not valid JSON: {exc}") from exc
    code = data.get("bytecode") or data.get("evm", {}).get("bytecode")
    abi = data.get("abi")
    if not isinstance(abi, list):
        raise ChainError(f"{path} has no abi")
    return Artifact(name=name, abi=abi, bytecode=_hex(code, path), source=path)


def pair_init_code_hash(chain: Path | None = None) -> str:
    """keccak256 of the pair's creation code: the CREATE2 salt base Router02 has hard-coded."""
    return "0x" + keccak(hexstr=load_artifact("UniswapV2Pair", chain).bytecode).hex()


def check_router_matches_factory(chain: Path | None = None) -> str:
    """The router computes pair addresses offline from a hard-coded init code hash; a router
    built for another factory would send tokens to addresses where no pair lives."""
    expected = pair_init_code_hash(chain)
    router = load_artifact("UniswapV2Router02", chain)
    if expected.removeprefix("0x") not in router.bytecode:
        raise ChainError(
            f"{router.source} does not embed the pair init code hash {expected} of "
            f"{ARTIFACT_PATHS['UniswapV2Pair']}: the router and factory packages do not match"
        )
    return expected
