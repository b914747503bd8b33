"""The Aave V3 market deploy_all sets up on the devnet: wired through its addresses provider,
idempotent down to the reserves' configuration and liquidity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.deploy import Deployer, Deployment, contract_at, deploy_all, dev_account
from grekko.adapters.devnet.deploy_aave import (
    FLASH_LOAN_PREMIUM_BPS,
    IMPLEMENTATION_SLOT,
    MARKET_ID,
    RESERVES,
    aave_abi,
)

AAVE_NAMES = {
    "AavePoolAddressesProvider",
    "AaveACLManager",
    "AavePool",
    "AavePoolImpl",
    "AavePoolConfigurator",
    "AavePoolConfiguratorImpl",
    "AaveOracle",
    "AaveProtocolDataProvider",
    "AaveInterestRateStrategy",
    "AaveATokenImpl",
    "AaveVariableDebtTokenImpl",
    "AaveStableDebtTokenImpl",
    *(f"Aave{lib}" for lib in ("BorrowLogic", "FlashLoanLogic", "ConfiguratorLogic")),
    *(f"{kind}{s.label}" for s in RESERVES for kind in ("a", "variableDebt", "stableDebt")),
    *(f"AavePriceSource{s.label}" for s in RESERVES),
}


def _at(w3: Web3, deployment: Deployment, abi: str, name: str) -> Contract:
    return w3.eth.contract(address=deployment.contracts[name], abi=aave_abi(abi))


def test_the_first_run_deployed_the_market_and_the_second_sends_nothing(
    w3: Web3, session_deployment: Deployment, session_data_dir: Path
) -> None:
    assert set(session_deployment.deployed) >= AAVE_NAMES
    for name in AAVE_NAMES:
        assert len(w3.eth.get_code(session_deployment.contracts[name])) > 0, name
    block = w3.eth.block_number
    again = deploy_all(w3, session_data_dir)
    assert again.deployed == ()
    assert again.contracts == session_deployment.contracts
    assert w3.eth.block_number == block


def test_the_pool_proxy_is_wired_through_the_addresses_provider(
    w3: Web3, session_deployment: Deployment
) -> None:
    contracts = session_deployment.contracts
    provider = _at(w3, session_deployment, "PoolAddressesProvider", "AavePoolAddressesProvider")
    pool = _at(w3, session_deployment, "Pool", "AavePool")
    assert pool.functions.ADDRESSES_PROVIDER().call() == provider.address
    assert provider.functions.getMarketId().call() == MARKET_ID
    assert provider.functions.owner().call() == session_deployment.deployer
    wiring = {
        "getPool": "AavePool",
        "getPoolConfigurator": "AavePoolConfigurator",
        "getPriceOracle": "AaveOracle",
        "getPoolDataProvider": "AaveProtocolDataProvider",
        "getACLManager": "AaveACLManager",
    }
    for getter, name in wiring.items():
        assert getattr(provider.functions, getter)().call() == contracts[name], getter
    for proxy, impl in (
        ("AavePool", "AavePoolImpl"),
        ("AavePoolConfigurator", "AavePoolConfiguratorImpl"),
    ):
        slot = bytes(w3.eth.get_storage_at(contracts[proxy], IMPLEMENTATION_SLOT))
        assert Web3.to_checksum_address(slot[-20:]) == contracts[impl]
    acl = _at(w3, session_deployment, "ACLManager", "AaveACLManager")
    assert acl.functions.isPoolAdmin(session_deployment.deployer).call()
    assert acl.functions.isRiskAdmin(session_deployment.deployer).call()


def test_the_flash_loan_premium_is_what_was_configured(
    w3: Web3, session_deployment: Deployment
) -> None:
    pool = _at(w3, session_deployment, "Pool", "AavePool")
    assert pool.functions.FLASHLOAN_PREMIUM_TOTAL().call() == FLASH_LOAN_PREMIUM_BPS == 5
    assert pool.functions.FLASHLOAN_PREMIUM_TO_PROTOCOL().call() == 0


def test_reserves_are_priced_listed_and_supplied(w3: Web3, session_deployment: Deployment) -> None:
    contracts = session_deployment.contracts
    pool = _at(w3, session_deployment, "Pool", "AavePool")
    oracle = _at(w3, session_deployment, "AaveOracle", "AaveOracle")
    assert pool.functions.getReservesList().call() == [contracts[s.key] for s in RESERVES]
    assert oracle.functions.BASE_CURRENCY_UNIT().call() == 10**8
    for spec in RESERVES:
        asset = contracts[spec.key]
        assert oracle.functions.getAssetPrice(asset).call() == spec.price_usd * 10**8
        a_token = _at(w3, session_deployment, "AToken", f"a{spec.label}")
        assert a_token.functions.symbol().call() == f"a{spec.label}"
        assert a_token.functions.UNDERLYING_ASSET_ADDRESS().call() == asset
        decimals = a_token.functions.decimals().call()
        seed = spec.seed * 10**decimals
        assert a_token.functions.balanceOf(session_deployment.deployer).call() == seed
        underlying = contract_at(w3, spec.key, asset)
        assert underlying.functions.balanceOf(a_token.address).call() == seed
        debt = _at(w3, session_deployment, "VariableDebtToken", f"variableDebt{spec.label}")
        assert debt.functions.UNDERLYING_ASSET_ADDRESS().call() == asset


def test_a_withdrawn_supply_is_topped_up_and_nothing_else_redeployed(
    w3: Web3, session_deployment: Deployment, session_data_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(session_data_dir / "devnet", tmp_path / "devnet", ignore=_only_records)
    deployer = Deployer(w3, dev_account())
    pool = _at(w3, session_deployment, "Pool", "AavePool")
    usdc = session_deployment.contracts["USDC"]
    deployer.call(pool, "withdraw", usdc, 1_234 * 10**6, deployer.account.address)
    again = deploy_all(w3, tmp_path)
    assert again.deployed == ("aUSDC",)
    assert again.contracts == session_deployment.contracts
    a_usdc = _at(w3, session_deployment, "AToken", "aUSDC")
    assert a_usdc.functions.balanceOf(deployer.account.address).call() == 10_000_000 * 10**6
    records = json.loads((tmp_path / "devnet" / "deployments.json").read_text())
    (entry,) = records.values()
    assert entry["contracts"] == dict(session_deployment.contracts)


def _only_records(_dir: str, names: list[str]) -> list[str]:
    return [n for n in names if n != "deployments.json"]
