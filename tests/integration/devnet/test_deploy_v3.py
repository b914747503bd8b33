"""Uniswap V3 on the devnet: deployed once from the npm artifacts, wired together, and pools landing
where the periphery's hard-coded init code hash says they do."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils.crypto import keccak
from web3 import Web3

from grekko.adapters.devnet.artifacts import ARTIFACT_PATHS
from grekko.adapters.devnet.deploy import Deployment, contract_at, deploy_all
from grekko.adapters.devnet.deploy_v3 import POOL_INIT_CODE_HASH, check_v3_pool_init_code_hash
from grekko.adapters.devnet.paths import ChainError, chain_dir
from grekko.adapters.devnet.pools_v3 import add_v3_pool

V3_NAMES = (
    "UniswapV3Factory",
    "NFTDescriptor",
    "NonfungibleTokenPositionDescriptor",
    "NonfungiblePositionManager",
    "SwapRouter",
    "QuoterV2",
)
# Uniswap's mainnet fee tiers and their tick spacings (100 was enabled by governance)
TICK_SPACINGS = {100: 1, 500: 10, 3000: 60, 10000: 200}


def test_every_v3_contract_is_recorded_with_code(
    w3: Web3, session_deployment: Deployment, session_data_dir: Path
) -> None:
    assert [n for n in session_deployment.deployed if n in V3_NAMES] == list(V3_NAMES)
    records = json.loads((session_data_dir / "devnet" / "deployments.json").read_text())
    (entry,) = records.values()
    for name in V3_NAMES:
        assert entry["contracts"][name] == session_deployment.contracts[name]
        assert len(w3.eth.get_code(session_deployment.contracts[name])) > 0


def test_the_periphery_points_at_the_factory_and_weth(
    w3: Web3, session_deployment: Deployment
) -> None:
    c = session_deployment.contracts
    factory = contract_at(w3, "UniswapV3Factory", c["UniswapV3Factory"])
    assert factory.functions.owner().call() == session_deployment.deployer
    for fee, spacing in TICK_SPACINGS.items():
        assert factory.functions.feeAmountTickSpacing(fee).call() == spacing
    for name in ("NonfungiblePositionManager", "SwapRouter", "QuoterV2"):
        periphery = contract_at(w3, name, c[name])
        assert periphery.functions.factory().call() == c["UniswapV3Factory"]
        assert periphery.functions.WETH9().call() == c["WETH9"]
    descriptor = w3.eth.contract(
        address=c["NonfungibleTokenPositionDescriptor"],
        abi=[
            {
                "name": "nativeCurrencyLabel",
                "type": "function",
                "stateMutability": "view",
                "inputs": [],
                "outputs": [{"name": "", "type": "string"}],
            }
        ],
    )
    assert descriptor.functions.nativeCurrencyLabel().call() == "ETH"


def test_a_second_run_deploys_nothing(
    w3: Web3, session_deployment: Deployment, session_data_dir: Path
) -> None:
    block = w3.eth.block_number
    again = deploy_all(w3, session_data_dir)
    assert again.deployed == ()
    assert again.contracts == session_deployment.contracts
    assert w3.eth.block_number == block


@pytest.mark.parametrize(
    ("lost", "redeployed"),
    [
        (
            "NFTDescriptor",
            ("NFTDescriptor", "NonfungibleTokenPositionDescriptor", "NonfungiblePositionManager"),
        ),
        (
            "UniswapV3Factory",
            ("UniswapV3Factory", "NonfungiblePositionManager", "SwapRouter", "QuoterV2"),
        ),
    ],
)
def test_a_lost_contract_redeploys_what_depends_on_it(
    w3: Web3,
    session_deployment: Deployment,
    session_data_dir: Path,
    tmp_path: Path,
    lost: str,
    redeployed: tuple[str, ...],
) -> None:
    """The descriptor links the library, the manager embeds the descriptor, the router and quoter
    hold the factory: each counts as present only while it points at the recorded one."""
    (tmp_path / "devnet").mkdir()
    records = json.loads((session_data_dir / "devnet" / "deployments.json").read_text())
    (entry,) = records.values()
    entry["contracts"][lost] = "0x" + "00" * 19 + "01"  # an address with no code
    (tmp_path / "devnet" / "deployments.json").write_text(json.dumps(records))

    again = deploy_all(w3, tmp_path)

    assert again.deployed == redeployed
    for name in V3_NAMES:
        changed = again.contracts[name] != session_deployment.contracts[name]
        assert changed == (name in redeployed), name
    assert deploy_all(w3, tmp_path).deployed == ()
    manager = contract_at(
        w3, "NonfungiblePositionManager", again.contracts["NonfungiblePositionManager"]
    )
    assert manager.functions.factory().call() == again.contracts["UniswapV3Factory"]


def test_a_pool_lands_where_the_init_code_hash_says(
    w3: Web3, session_deployment: Deployment
) -> None:
    assert check_v3_pool_init_code_hash() == POOL_INIT_CODE_HASH
    liquidity = 10**16
    pool = add_v3_pool(w3, session_deployment, "UNI", "USDC", 3000, Decimal(7), liquidity=liquidity)
    c = session_deployment.contracts
    token0, token1 = sorted([c["UNI"], c["USDC"]], key=lambda a: int(a, 16))
    salt = keccak(encode(["address", "address", "uint24"], [token0, token1, 3000]))
    preimage = (
        b"\xff"
        + bytes.fromhex(c["UniswapV3Factory"][2:])
        + salt
        + bytes.fromhex(POOL_INIT_CODE_HASH[2:])
    )
    assert pool == Web3.to_checksum_address(keccak(preimage)[12:])
    minted = contract_at(w3, "UniswapV3Pool", pool).functions.liquidity().call()
    assert liquidity <= minted <= liquidity * 1_000_002 // 1_000_000  # what was paid for, at least


def _chain_copy(tmp_path: Path) -> Path:
    for name in ("UniswapV3Pool", "SwapRouter", "NonfungiblePositionManager", "QuoterV2"):
        target = tmp_path / ARTIFACT_PATHS[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(chain_dir() / ARTIFACT_PATHS[name], target)
    return tmp_path


def test_a_pool_artifact_of_another_build_is_refused(anvil_path: Path, tmp_path: Path) -> None:
    chain = _chain_copy(tmp_path)
    path = chain / ARTIFACT_PATHS["UniswapV3Pool"]
    artifact = json.loads(path.read_text())
    artifact["bytecode"] += "00"  # any other build hashes differently
    path.write_text(json.dumps(artifact))
    with pytest.raises(ChainError, match="POOL_INIT_CODE_HASH"):
        check_v3_pool_init_code_hash(chain)


def test_a_router_built_for_another_pool_is_refused(anvil_path: Path, tmp_path: Path) -> None:
    chain = _chain_copy(tmp_path)
    path = chain / ARTIFACT_PATHS["SwapRouter"]
    artifact = json.loads(path.read_text())
    artifact["bytecode"] = artifact["bytecode"].replace(POOL_INIT_CODE_HASH[2:], "ab" * 32)
    path.write_text(json.dumps(artifact))
    with pytest.raises(ChainError, match="does not embed POOL_INIT_CODE_HASH"):
        check_v3_pool_init_code_hash(chain)
