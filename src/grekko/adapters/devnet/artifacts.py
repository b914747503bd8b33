"""Contract artifacts (abi + creation bytecode) read from the pinned npm packages in chain/.

The protocol contracts are deployed from the very bytecode their authors published, never
recompiled; only our own contracts (contracts/*.sol) are compiled, by `npm run build` in chain/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from grekko.adapters.devnet.paths import ChainError, chain_dir, require_file

_V3_CORE = "node_modules/@uniswap/v3-core/artifacts/contracts"
_V3_PERIPHERY = "node_modules/@uniswap/v3-periphery/artifacts/contracts"

ARTIFACT_PATHS: dict[str, str] = {
    "WETH9": "node_modules/canonical-weth/build/contracts/WETH9.json",
    "UniswapV2Factory": "node_modules/@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "node_modules/@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "node_modules/@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "GrekkoToken": "build/GrekkoToken.json",
    "UniswapV3Factory": f"{_V3_CORE}/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": f"{_V3_CORE}/UniswapV3Pool.sol/UniswapV3Pool.json",
    "NFTDescriptor": f"{_V3_PERIPHERY}/libraries/NFTDescriptor.sol/NFTDescriptor.json",
    "NonfungibleTokenPositionDescriptor": (
        f"{_V3_PERIPHERY}/NonfungibleTokenPositionDescriptor.sol/"
        "NonfungibleTokenPositionDescriptor.json"
    ),
    "NonfungiblePositionManager": (
        f"{_V3_PERIPHERY}/NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "SwapRouter": f"{_V3_PERIPHERY}/SwapRouter.sol/SwapRouter.json",
    "QuoterV2": f"{_V3_PERIPHERY}/lens/QuoterV2.sol/QuoterV2.json",
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
    return "0x" + code.removeprefix("0x")


def _link(
    text: str, references: Mapping[str, Mapping[str, Any]], libraries: Mapping[str, str], src: Path
) -> str:
    """Write each library's address over its placeholders (hardhat `linkReferences`: byte offsets
    into the creation code). An unlinked placeholder left in the code is an error, never deployed."""
    code = text.removeprefix("0x")
    for libs in references.values():
        for lib, spots in libs.items():
            if lib not in libraries:
                raise ChainError(f"{src} needs library {lib} linked: pass its deployed address")
            address = libraries[lib].lower().removeprefix("0x")
            if len(address) != 40:
                raise ChainError(f"library {lib} address {libraries[lib]!r} is not 20 bytes")
            for spot in spots:
                start, length = int(spot["start"]) * 2, int(spot["length"]) * 2
                code = code[:start] + address + code[start + length :]
    if "__" in code:
        raise ChainError(f"{src} needs library linking the artifact does not describe")
    return "0x" + code


def load_artifact(
    name: str, chain: Path | None = None, *, libraries: Mapping[str, str] | None = None
) -> Artifact:
    """A known artifact by name; `libraries` maps library name -> address for linking."""
    if name not in ARTIFACT_PATHS:
        raise ChainError(f"unknown artifact {name!r}; known: {', '.join(sorted(ARTIFACT_PATHS))}")
    return load_artifact_file(name, ARTIFACT_PATHS[name], chain, libraries=libraries)


def load_artifact_file(
    name: str,
    relative: str,
    chain: Path | None = None,
    *,
    libraries: Mapping[str, str] | None = None,
) -> Artifact:
    """An artifact at `relative` (to chain/): a hardhat/truffle JSON with abi and bytecode."""
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
    references = data.get("linkReferences") or {}
    linked = _link(_hex(code, path), references, libraries or {}, path)
    return Artifact(name=name, abi=abi, bytecode=linked, source=path)


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
