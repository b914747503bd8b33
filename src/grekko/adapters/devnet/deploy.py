"""Deploy WETH9, the devnet tokens and Uniswap V2 onto a chain, once.

Addresses are recorded in <data_dir>/devnet/deployments.json under the chain id and genesis block
hash: a reset devnet has a new genesis, so its empty chain is never mistaken for the old one. A
second run finds the recorded contracts, checks that code lives at each address, and deploys only
what is missing (nothing, normally). Transactions are signed locally with anvil's first dev account,
derived from anvil's public test mnemonic (coincurve makes that signing fast).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.artifacts import check_router_matches_factory, load_artifact
from grekko.adapters.devnet.deploy_aave import aave_steps
from grekko.adapters.devnet.deploy_v3 import v3_steps
from grekko.adapters.devnet.deployer import Deployer, Step, dev_account, has_code
from grekko.adapters.devnet.paths import ChainError

__all__ = ["Deployer", "Deployment", "contract_at", "deploy_all", "dev_account"]

DEPLOYMENTS_FILE = "deployments.json"


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    name: str
    decimals: int
    initial_supply: int  # whole tokens, minted to the deployer

    @property
    def base_units(self) -> int:
        return int(self.initial_supply * 10**self.decimals)


TOKENS: tuple[TokenSpec, ...] = (
    TokenSpec("USDC", "USD Coin", 6, 1_000_000_000),
    TokenSpec("WBTC", "Wrapped BTC", 8, 1_000_000),
    TokenSpec("UNI", "Uniswap", 18, 1_000_000_000),
)


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    genesis_hash: str
    deployer: str
    contracts: Mapping[
        str, ChecksumAddress
    ]  # WETH9, USDC, WBTC, UNI, UniswapV2Factory, UniswapV2Router02
    deployed: tuple[str, ...] = field(default=())  # names deployed by this run (empty: all found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "genesis_hash": self.genesis_hash,
            "deployer": self.deployer,
            "contracts": dict(self.contracts),
            "deployed": list(self.deployed),
        }


def chain_key(w3: Web3) -> tuple[int, str]:
    genesis = w3.eth.get_block(0)
    return int(w3.eth.chain_id), "0x" + bytes(genesis["hash"]).hex()


def contract_at(w3: Web3, name: str, address: str, chain: Path | None = None) -> Contract:
    artifact = load_artifact("GrekkoToken" if name in {t.symbol for t in TOKENS} else name, chain)
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)


def _read_records(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ChainError(f"{path} is not valid JSON ({exc}): delete it to deploy afresh") from exc
    if not isinstance(data, dict):
        raise ChainError(f"{path} does not hold a JSON object: delete it to deploy afresh")
    return data


def _write_records(path: Path, records: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def _router_fits(w3: Web3, found: Mapping[str, str], chain: Path | None) -> bool:
    if not all(has_code(w3, found.get(n)) for n in ("UniswapV2Router02", "UniswapV2Factory")):
        return False
    router = contract_at(w3, "UniswapV2Router02", found["UniswapV2Router02"], chain)
    return bool(
        router.functions.factory().call() == Web3.to_checksum_address(found["UniswapV2Factory"])
        and router.functions.WETH().call() == Web3.to_checksum_address(found["WETH9"])
    )


def v2_steps(d: Deployer, found: dict[str, ChecksumAddress], chain: Path | None) -> list[Step]:
    """(name, deploy, is-already-there) in dependency order."""
    w3, me = d.w3, d.account.address

    def present(name: str) -> Callable[[], bool]:
        return lambda: has_code(w3, found.get(name))

    token = load_artifact("GrekkoToken", chain)
    steps: list[Step] = [
        ("WETH9", lambda: d.deploy(load_artifact("WETH9", chain)), present("WETH9"))
    ]
    for spec in TOKENS:
        args = (spec.name, spec.symbol, spec.decimals, spec.base_units, me)
        steps.append((spec.symbol, partial(d.deploy, token, *args), present(spec.symbol)))
    steps.append(
        (
            "UniswapV2Factory",
            lambda: d.deploy(load_artifact("UniswapV2Factory", chain), me),
            present("UniswapV2Factory"),
        )
    )
    steps.append(
        (
            "UniswapV2Router02",
            lambda: d.deploy(
                load_artifact("UniswapV2Router02", chain),
                found["UniswapV2Factory"],
                found["WETH9"],
            ),
            lambda: _router_fits(w3, found, chain),
        )
    )
    return steps


# each returns its steps in dependency order; later protocols may use earlier ones' addresses
_PROTOCOLS: tuple[
    Callable[[Deployer, dict[str, ChecksumAddress], Path | None], list[Step]], ...
] = (v2_steps, v3_steps, aave_steps)


def deploy_all(w3: Web3, data_dir: Path, *, chain: Path | None = None) -> Deployment:
    """Make sure every devnet contract exists on this chain; deploys only what is missing."""
    check_router_matches_factory(chain)
    chain_id, genesis = chain_key(w3)
    path = Path(data_dir) / "devnet" / DEPLOYMENTS_FILE
    records = _read_records(path)
    key = f"{chain_id}:{genesis}"
    account = dev_account()
    recorded = records.get(key, {}).get("contracts", {})
    found = {name: Web3.to_checksum_address(a) for name, a in recorded.items()}
    deployer = Deployer(w3, account)
    deployed: list[str] = []
    steps = [step for protocol in _PROTOCOLS for step in protocol(deployer, found, chain)]
    for name, deploy, present in steps:
        if present():
            continue
        found[name] = deploy()
        deployed.append(name)
        records[key] = {
            "chain_id": chain_id,
            "genesis_hash": genesis,
            "deployer": account.address,
            "contracts": found,
        }
        _write_records(path, records)  # after each one: an interrupted run resumes from here
    return Deployment(chain_id, genesis, account.address, dict(found), tuple(deployed))
