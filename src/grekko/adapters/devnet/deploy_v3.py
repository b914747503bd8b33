"""Deploy Uniswap V3 (factory, position manager, router, quoter) from its npm artifacts, once.

The periphery never asks the factory where a pool lives: it derives the address by CREATE2 from
a hard-coded hash of the pool's creation code. So the pool artifact and the periphery artifacts must
agree on that hash, or every swap would call an address with no pool; this is checked before any
deploy. A recorded periphery contract counts as present only while it still points at the recorded
factory and WETH9, so redeploying either one redeploys what depends on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.artifacts import ARTIFACT_PATHS, load_artifact
from grekko.adapters.devnet.deployer import Deployer, Step, has_code
from grekko.adapters.devnet.paths import ChainError

# PoolAddress.POOL_INIT_CODE_HASH of @uniswap/v3-periphery: keccak256(UniswapV3Pool creation code)
POOL_INIT_CODE_HASH = "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
NATIVE_CURRENCY_LABEL = b"ETH".ljust(32, b"\0")
# Fee 100 (tick spacing 1) came after launch through governance; the factory enables only the others
EXTRA_FEE_TIERS: dict[int, int] = {100: 1}
_PERIPHERY_WITH_POOL_HASH = ("SwapRouter", "NonfungiblePositionManager", "QuoterV2")


def check_v3_pool_init_code_hash(chain: Path | None = None) -> str:
    """The pool's creation code hashes to the periphery's constant, which the periphery embeds."""
    pool = load_artifact("UniswapV3Pool", chain)
    actual = "0x" + keccak(hexstr=pool.bytecode).hex()
    if actual != POOL_INIT_CODE_HASH:
        raise ChainError(
            f"{pool.source} hashes to {actual}, not the periphery's POOL_INIT_CODE_HASH "
            f"{POOL_INIT_CODE_HASH}: the v3-core and v3-periphery packages do not match"
        )
    for name in _PERIPHERY_WITH_POOL_HASH:
        artifact = load_artifact(name, chain)
        if POOL_INIT_CODE_HASH.removeprefix("0x") not in artifact.bytecode.lower():
            raise ChainError(
                f"{artifact.source} does not embed POOL_INIT_CODE_HASH {POOL_INIT_CODE_HASH} "
                f"of {ARTIFACT_PATHS['UniswapV3Pool']}: it computes pool addresses elsewhere"
            )
    return POOL_INIT_CODE_HASH


def _contract(w3: Web3, abi: list[dict[str, Any]], address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def _embeds(w3: Web3, address: str, embedded: str) -> bool:
    """Linked libraries and immutables live in the runtime code as raw 20-byte addresses."""
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    return bytes.fromhex(embedded.removeprefix("0x")) in code


def _points_at(
    w3: Web3, name: str, found: Mapping[str, str], wants: Mapping[str, str], chain: Path | None
) -> bool:
    """Code at found[name] whose getters (fn -> recorded contract name) answer the recorded ones."""
    if not has_code(w3, found.get(name)) or not all(
        has_code(w3, found.get(w)) for w in wants.values()
    ):
        return False
    contract = _contract(w3, load_artifact(name, chain).abi, found[name])
    return all(
        getattr(contract.functions, fn)().call() == Web3.to_checksum_address(found[want])
        for fn, want in wants.items()
    )


def _factory_fits(w3: Web3, found: Mapping[str, str], chain: Path | None) -> bool:
    if not has_code(w3, found.get("UniswapV3Factory")):
        return False
    factory = _contract(w3, load_artifact("UniswapV3Factory", chain).abi, found["UniswapV3Factory"])
    return all(
        int(factory.functions.feeAmountTickSpacing(fee).call()) == spacing
        for fee, spacing in EXTRA_FEE_TIERS.items()
    )


def _descriptor_fits(w3: Web3, found: Mapping[str, str], chain: Path | None) -> bool:
    name, library = "NonfungibleTokenPositionDescriptor", "NFTDescriptor"
    if not (has_code(w3, found.get(name)) and has_code(w3, found.get(library))):
        return False
    artifact = load_artifact(name, chain, libraries={library: found[library]})
    descriptor = _contract(w3, artifact.abi, found[name])
    return bool(
        descriptor.functions.WETH9().call() == Web3.to_checksum_address(found["WETH9"])
        and bytes(descriptor.functions.nativeCurrencyLabelBytes().call()) == NATIVE_CURRENCY_LABEL
        and _embeds(w3, found[name], found[library])
    )


def _manager_fits(w3: Web3, found: Mapping[str, str], chain: Path | None) -> bool:
    name, descriptor = "NonfungiblePositionManager", "NonfungibleTokenPositionDescriptor"
    wants = {"factory": "UniswapV3Factory", "WETH9": "WETH9"}
    return bool(
        _points_at(w3, name, found, wants, chain)
        and has_code(w3, found.get(descriptor))
        and _embeds(w3, found[name], found[descriptor])
    )


def _deploy_factory(d: Deployer, chain: Path | None) -> ChecksumAddress:
    artifact = load_artifact("UniswapV3Factory", chain)
    address = d.deploy(artifact)
    factory = _contract(d.w3, artifact.abi, address)
    for fee, spacing in EXTRA_FEE_TIERS.items():
        d.call(factory, "enableFeeAmount", fee, spacing)
    return address


def v3_steps(d: Deployer, found: dict[str, ChecksumAddress], chain: Path | None) -> list[Step]:
    """(name, deploy, is-already-there) in dependency order; WETH9 comes from the V2 steps."""
    check_v3_pool_init_code_hash(chain)
    w3 = d.w3
    immutables = {"factory": "UniswapV3Factory", "WETH9": "WETH9"}

    def periphery(name: str) -> Step:
        def deploy() -> ChecksumAddress:
            return d.deploy(load_artifact(name, chain), found["UniswapV3Factory"], found["WETH9"])

        return (name, deploy, lambda: _points_at(w3, name, found, immutables, chain))

    def descriptor() -> ChecksumAddress:
        libraries = {"NFTDescriptor": found["NFTDescriptor"]}
        artifact = load_artifact("NonfungibleTokenPositionDescriptor", chain, libraries=libraries)
        return d.deploy(artifact, found["WETH9"], NATIVE_CURRENCY_LABEL)

    def manager() -> ChecksumAddress:
        artifact = load_artifact("NonfungiblePositionManager", chain)
        descriptor_address = found["NonfungibleTokenPositionDescriptor"]
        return d.deploy(artifact, found["UniswapV3Factory"], found["WETH9"], descriptor_address)

    return [
        (
            "UniswapV3Factory",
            lambda: _deploy_factory(d, chain),
            lambda: _factory_fits(w3, found, chain),
        ),
        (
            "NFTDescriptor",
            lambda: d.deploy(load_artifact("NFTDescriptor", chain)),
            lambda: has_code(w3, found.get("NFTDescriptor")),
        ),
        (
            "NonfungibleTokenPositionDescriptor",
            descriptor,
            lambda: _descriptor_fits(w3, found, chain),
        ),
        ("NonfungiblePositionManager", manager, lambda: _manager_fits(w3, found, chain)),
        periphery("SwapRouter"),
        periphery("QuoterV2"),
    ]
