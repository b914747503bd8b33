"""The npm artifacts the devnet deploys: found where the pinned packages put them, and checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from grekko.adapters.devnet.artifacts import (
    ARTIFACT_PATHS,
    check_router_matches_factory,
    load_artifact,
    pair_init_code_hash,
)
from grekko.adapters.devnet.paths import ChainError, chain_dir

# the init code hash Uniswap published for the mainnet V2 factory (UniswapV2Library.pairFor)
MAINNET_PAIR_INIT_CODE_HASH = "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"


NEEDS_LINKING = {"NonfungibleTokenPositionDescriptor": "NFTDescriptor"}


def test_every_artifact_loads_with_abi_and_bytecode(anvil_path: Path) -> None:
    for name in ARTIFACT_PATHS:
        libraries = {NEEDS_LINKING[name]: "0x" + "ab" * 20} if name in NEEDS_LINKING else None
        artifact = load_artifact(name, libraries=libraries)
        assert artifact.bytecode.startswith("0x")
        assert len(artifact.bytecode) > 2
        assert any(entry.get("type") == "function" for entry in artifact.abi)
        assert artifact.source.is_relative_to(chain_dir())


def test_a_library_placeholder_is_linked_or_refused(anvil_path: Path) -> None:
    name = "NonfungibleTokenPositionDescriptor"
    with pytest.raises(ChainError, match="needs library NFTDescriptor linked"):
        load_artifact(name)
    linked = load_artifact(name, libraries={"NFTDescriptor": "0x" + "Ab" * 20}).bytecode
    assert "__" not in linked
    assert "ab" * 20 in linked
    with pytest.raises(ChainError, match="not 20 bytes"):
        load_artifact(name, libraries={"NFTDescriptor": "0x1234"})


def test_pair_bytecode_is_the_mainnet_one(anvil_path: Path) -> None:
    assert pair_init_code_hash() == MAINNET_PAIR_INIT_CODE_HASH
    assert check_router_matches_factory() == MAINNET_PAIR_INIT_CODE_HASH


def _copy_chain(tmp_path: Path) -> Path:
    for name in ("UniswapV2Pair", "UniswapV2Router02"):
        target = tmp_path / ARTIFACT_PATHS[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(chain_dir() / ARTIFACT_PATHS[name], target)
    return tmp_path


def test_a_router_for_another_pair_is_refused(anvil_path: Path, tmp_path: Path) -> None:
    chain = _copy_chain(tmp_path)
    pair_path = chain / ARTIFACT_PATHS["UniswapV2Pair"]
    pair = json.loads(pair_path.read_text())
    pair["bytecode"] = pair["bytecode"] + "00"  # another creation code, another CREATE2 hash
    pair_path.write_text(json.dumps(pair))
    assert pair_init_code_hash(chain) == "0x" + keccak(hexstr=pair["bytecode"]).hex()
    with pytest.raises(ChainError, match="does not embed the pair init code hash"):
        check_router_matches_factory(chain)


def test_missing_artifacts_name_make_install(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match="make install"):
        load_artifact("UniswapV2Factory", tmp_path)
    with pytest.raises(ChainError, match="npm run build"):
        load_artifact("GrekkoToken", tmp_path)
    with pytest.raises(ChainError, match="unknown artifact"):
        load_artifact("NoSuchContract", tmp_path)
