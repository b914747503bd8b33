"""Deploy an Aave V3 market (pool, configurator, oracle, data provider) with USDC, WETH and WBTC
reserves open to flash loans, from the bytecode @aave/core-v3 1.19.3 published.

The market is wired the way Aave's own deploy scripts wire it: the addresses provider creates the
pool and configurator proxies, the deployer is ACL, pool and risk admin, and every reserve is
listed and configured through the configurator. Configuration steps record the address they
configure and check the chain's state, not just code, so a second run sends nothing. Liquidity is
minted (or wrapped) for the purpose and then supplied, leaving the deployer's own balances as the
token deployment left them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.artifacts import load_artifact, load_artifact_file
from grekko.adapters.devnet.deployer import Deployer, Step, has_code
from grekko.adapters.devnet.paths import chain_dir, require_file

_AAVE = "node_modules/@aave/core-v3/artifacts/contracts"
_POOL_LOGIC = ("Borrow", "Bridge", "EMode", "FlashLoan", "Liquidation", "Pool", "Supply")
POOL_LIBRARIES = tuple(f"{part}Logic" for part in _POOL_LOGIC)
# a library linked into another must be deployed first: FlashLoanLogic calls BorrowLogic
LIBRARY_LINKS: dict[str, tuple[str, ...]] = {"FlashLoanLogic": ("BorrowLogic",)}
_AAVE_FOLDERS: dict[str, tuple[str, ...]] = {
    "protocol/configuration": ("PoolAddressesProvider", "ACLManager"),
    "protocol/pool": ("Pool", "PoolConfigurator", "DefaultReserveInterestRateStrategy"),
    "protocol/tokenization": ("AToken", "VariableDebtToken", "StableDebtToken"),
    "protocol/libraries/logic": (*POOL_LIBRARIES, "ConfiguratorLogic"),
    "misc": ("AaveOracle", "AaveProtocolDataProvider"),
    "mocks/oracle/CLAggregators": ("MockAggregator",),
}
AAVE_ARTIFACT_PATHS: dict[str, str] = {
    name: f"{_AAVE}/{folder}/{name}.sol/{name}.json"
    for folder, names in _AAVE_FOLDERS.items()
    for name in names
}
AAVE_ERRORS_SOURCE = "node_modules/@aave/core-v3/contracts/protocol/libraries/helpers/Errors.sol"

MARKET_ID = "Grekko Devnet"
FLASH_LOAN_PREMIUM_BPS = 5  # what mainnet charged at launch: 0.05 % of the amount
ORACLE_UNIT = 10**8  # prices in USD with 8 decimals, as Chainlink's USD feeds report them
RAY = 10**27
ZERO_ADDRESS = "0x" + "00" * 20
_PROVIDER = "AavePoolAddressesProvider"  # its name in the records
# EIP-1967 implementation slot, where the provider's proxies keep their logic contract
IMPLEMENTATION_SLOT = int("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc", 16)
# optimal usage, base variable rate, variable slopes 1 and 2, stable slopes 1 and 2, base stable
# offset, stable excess offset, optimal stable-to-total debt: a typical volatile-asset curve
# a reserve's tokens: (implementation contract, name infix, symbol prefix)
_TOKEN_KINDS = (
    ("AToken", "", "a"),
    ("VariableDebtToken", "Variable Debt ", "variableDebt"),
    ("StableDebtToken", "Stable Debt ", "stableDebt"),
)
RATE_STRATEGY = tuple(RAY * percent // 100 for percent in (80, 0, 4, 75, 4, 75, 2, 5, 20))


@dataclass(frozen=True)
class ReserveSpec:
    key: str  # the token's name in the deployment (V2 step)
    label: str  # what the reserve's tokens are named after: aUSDC, variableDebtUSDC
    price_usd: int
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int  # 10_000 plus the liquidator's bonus
    seed: int  # whole tokens the deployer supplies, for flash loans to lend


RESERVES: tuple[ReserveSpec, ...] = (
    ReserveSpec("USDC", "USDC", 1, 7700, 8000, 10450, 10_000_000),
    ReserveSpec("WETH9", "WETH", 2000, 8000, 8250, 10500, 500),
    ReserveSpec("WBTC", "WBTC", 60_000, 7000, 7500, 10650, 100),
)


@cache
def aave_abi(name: str, chain: Path | None = None) -> list[dict[str, Any]]:
    """The ABI alone: reading a deployed contract needs no library addresses."""
    path = require_file((chain or chain_dir()) / AAVE_ARTIFACT_PATHS[name], "run `make install`")
    abi: list[dict[str, Any]] = json.loads(path.read_text())["abi"]
    return abi


def aave_error_codes(chain: Path | None = None) -> dict[str, str]:
    """Aave reverts with numbered codes ('91'); Errors.sol names them (FLASHLOAN_DISABLED)."""
    path = require_file((chain or chain_dir()) / AAVE_ERRORS_SOURCE, "run `make install`")
    pattern = re.compile(r"string public constant (\w+) = '(\d+)';")
    return {code: name for name, code in pattern.findall(path.read_text())}


class _Market:
    """The deploy and present functions of every step, sharing the deployer and the records."""

    def __init__(self, d: Deployer, found: dict[str, ChecksumAddress], chain: Path | None):
        self.d, self.w3, self.me = d, d.w3, d.account.address
        self.found, self.chain = found, chain

    def at(self, abi_name: str, key: str) -> Contract:
        return self.w3.eth.contract(address=self.found[key], abi=aave_abi(abi_name, self.chain))

    def has(self, key: str) -> bool:
        return has_code(self.w3, self.found.get(key))

    def deploy(self, name: str, *args: Any, links: tuple[str, ...] = ()) -> ChecksumAddress:
        libraries = {lib: self.found[f"Aave{lib}"] for lib in links}
        path = AAVE_ARTIFACT_PATHS[name]
        return self.d.deploy(load_artifact_file(name, path, self.chain, libraries=libraries), *args)

    def deploy_for(self, name: str, key: str, *args: Any, **links: Any) -> ChecksumAddress:
        """Deploy `name` with the recorded address of `key` (known only by now) first."""
        return self.deploy(name, self.found[key], *args, **links)

    def token(self, spec: ReserveSpec) -> Contract:
        abi = load_artifact("WETH9" if spec.key == "WETH9" else "GrekkoToken", self.chain).abi
        return self.w3.eth.contract(address=self.found[spec.key], abi=abi)

    def provider(self) -> Contract:
        return self.at("PoolAddressesProvider", _PROVIDER)

    def provides(self, getter: str, key: str) -> bool:
        """The provider hands out the recorded address for `getter`, and code lives there."""
        if not (self.has(_PROVIDER) and self.has(key)):
            return False
        return bool(getattr(self.provider().functions, getter)().call() == self.found[key])

    def implementation(self, proxy: str) -> ChecksumAddress:
        word = self.w3.eth.get_storage_at(self.found[proxy], IMPLEMENTATION_SLOT)
        return Web3.to_checksum_address(bytes(word)[-20:])

    # -- addresses provider, ACL, pool and configurator ------------------------------------------

    def provider_present(self) -> bool:
        return self.has(_PROVIDER) and self.provider().functions.owner().call() == self.me

    def deploy_acl(self) -> ChecksumAddress:
        provider = self.provider()
        if provider.functions.getACLAdmin().call() != self.me:
            self.d.call(provider, "setACLAdmin", self.me)
        acl = self.deploy("ACLManager", provider.address)
        self.d.call(provider, "setACLManager", acl)
        manager = self.w3.eth.contract(address=acl, abi=aave_abi("ACLManager", self.chain))
        self.d.call(manager, "addPoolAdmin", self.me)
        self.d.call(manager, "addRiskAdmin", self.me)
        return acl

    def acl_present(self) -> bool:
        if not self.provides("getACLManager", "AaveACLManager"):
            return False
        acl = self.at("ACLManager", "AaveACLManager").functions
        return bool(acl.isPoolAdmin(self.me).call() and acl.isRiskAdmin(self.me).call())

    def serves(self, contract: str, key: str) -> bool:
        """A contract built for this market: its immutable addresses provider is ours."""
        if not (self.has(key) and self.has(_PROVIDER)):
            return False
        provider = self.at(contract, key).functions.ADDRESSES_PROVIDER().call()
        return bool(provider == self.found[_PROVIDER])

    def set_proxy(self, setter: str, getter: str, impl_key: str) -> ChecksumAddress:
        provider = self.provider()
        self.d.call(provider, setter, self.found[impl_key])
        return Web3.to_checksum_address(getattr(provider.functions, getter)().call())

    def proxy_present(self, getter: str, key: str, impl_key: str) -> bool:
        if not (self.provides(getter, key) and self.has(impl_key)):
            return False
        return self.implementation(key) == self.found[impl_key]

    def deploy_configurator(self) -> ChecksumAddress:
        """The configurator proxy, then the flash loan premium, which only it may set."""
        impl = "AavePoolConfiguratorImpl"
        if not self.proxy_present("getPoolConfigurator", "AavePoolConfigurator", impl):
            self.found["AavePoolConfigurator"] = self.set_proxy(
                "setPoolConfiguratorImpl", "getPoolConfigurator", impl
            )
        if not self.premium_set():
            configurator = self.at("PoolConfigurator", "AavePoolConfigurator")
            self.d.call(configurator, "updateFlashloanPremiumTotal", FLASH_LOAN_PREMIUM_BPS)
        return self.found["AavePoolConfigurator"]

    def premium_set(self) -> bool:
        premium = self.at("Pool", "AavePool").functions.FLASHLOAN_PREMIUM_TOTAL().call()
        return bool(premium == FLASH_LOAN_PREMIUM_BPS)

    def configurator_present(self) -> bool:
        impl = "AavePoolConfiguratorImpl"
        proxy = self.proxy_present("getPoolConfigurator", "AavePoolConfigurator", impl)
        return proxy and self.premium_set()

    # -- oracle, data provider, token implementations --------------------------------------------

    def source_present(self, spec: ReserveSpec) -> bool:
        key = f"AavePriceSource{spec.label}"
        if not self.has(key):
            return False
        answer = self.at("MockAggregator", key).functions.latestAnswer().call()
        return bool(answer == spec.price_usd * ORACLE_UNIT)

    def deploy_oracle(self) -> ChecksumAddress:
        assets = [self.found[spec.key] for spec in RESERVES]
        sources = [self.found[f"AavePriceSource{spec.label}"] for spec in RESERVES]
        provider = self.provider()
        args = (assets, sources, ZERO_ADDRESS, ZERO_ADDRESS, ORACLE_UNIT)  # USD base, no fallback
        oracle = self.deploy("AaveOracle", provider.address, *args)
        self.d.call(provider, "setPriceOracle", oracle)
        return oracle

    def oracle_present(self) -> bool:
        if not self.provides("getPriceOracle", "AaveOracle"):
            return False
        oracle = self.at("AaveOracle", "AaveOracle").functions
        return all(
            oracle.getSourceOfAsset(self.found[spec.key]).call()
            == self.found.get(f"AavePriceSource{spec.label}")
            for spec in RESERVES
        )

    def deploy_data_provider(self) -> ChecksumAddress:
        provider = self.provider()
        data_provider = self.deploy("AaveProtocolDataProvider", provider.address)
        self.d.call(provider, "setPoolDataProvider", data_provider)
        return data_provider

    def token_impl_present(self, contract: str, key: str) -> bool:
        if not (self.has(key) and self.has("AavePool")):
            return False
        return bool(self.at(contract, key).functions.POOL().call() == self.found["AavePool"])

    # -- reserves --------------------------------------------------------------------------------

    def reserve_tokens(self, spec: ReserveSpec) -> tuple[ChecksumAddress, ...]:
        """(aToken, stable debt token, variable debt token); zero addresses when not listed."""
        data = self.at("AaveProtocolDataProvider", "AaveProtocolDataProvider").functions
        tokens = data.getReserveTokensAddresses(self.found[spec.key]).call()
        return tuple(Web3.to_checksum_address(t) for t in tokens)

    def init_reserve(self, spec: ReserveSpec) -> None:
        """One InitReserveInput, in its field order: implementations, decimals, rate strategy,
        asset, treasury, incentives controller, then each token's name and symbol."""
        token, label = self.token(spec), spec.label
        impls = {kind: self.found[f"Aave{kind}Impl"] for kind, _, _ in _TOKEN_KINDS}
        names = [
            (f"Aave Grekko {infix}{label}", f"{prefix}{label}") for _, infix, prefix in _TOKEN_KINDS
        ]
        reserve = (
            impls["AToken"],
            impls["StableDebtToken"],
            impls["VariableDebtToken"],
            int(token.functions.decimals().call()),
            self.found["AaveInterestRateStrategy"],
            token.address,
            self.me,  # treasury
            ZERO_ADDRESS,  # no incentives controller
            *(text for pair in names for text in pair),
            b"",
        )
        configurator = self.at("PoolConfigurator", "AavePoolConfigurator")
        self.d.call(configurator, "initReserves", [reserve])

    def configured(self, spec: ReserveSpec) -> dict[str, bool]:
        data = self.at("AaveProtocolDataProvider", "AaveProtocolDataProvider").functions
        asset = self.found[spec.key]
        conf = data.getReserveConfigurationData(asset).call()
        risk = (spec.ltv_bps, spec.liquidation_threshold_bps, spec.liquidation_bonus_bps)
        return {
            "collateral": tuple(conf[1:4]) == risk,
            "borrowing": bool(conf[6]),
            "flash loans": bool(data.getFlashLoanEnabled(asset).call()),
            "usable": bool(conf[8] and not conf[9] and not data.getPaused(asset).call()),
        }

    def configure_reserve(self, spec: ReserveSpec) -> None:
        configurator = self.at("PoolConfigurator", "AavePoolConfigurator")
        asset = self.found[spec.key]
        state = self.configured(spec)
        if not state["collateral"]:
            risk = (spec.ltv_bps, spec.liquidation_threshold_bps, spec.liquidation_bonus_bps)
            self.d.call(configurator, "configureReserveAsCollateral", asset, *risk)
        if not state["borrowing"]:
            self.d.call(configurator, "setReserveBorrowing", asset, True)
        if not state["flash loans"]:
            self.d.call(configurator, "setReserveFlashLoaning", asset, True)

    def seed_units(self, spec: ReserveSpec) -> int:
        return int(spec.seed * 10 ** int(self.token(spec).functions.decimals().call()))

    def supplied(self, a_token: ChecksumAddress) -> int:
        """The deployer's aToken balance: its supply, plus interest."""
        contract = self.w3.eth.contract(address=a_token, abi=aave_abi("AToken", self.chain))
        return int(contract.functions.balanceOf(self.me).call())

    def supply(self, spec: ReserveSpec, amount: int) -> None:
        """Mint (or wrap) `amount` first, so the deployer's own balance is left as it was."""
        token = self.token(spec)
        if spec.key == "WETH9":
            self.d.call(token, "deposit", value=amount)
        else:
            self.d.call(token, "mint", self.me, amount)
        self.d.call(token, "approve", self.found["AavePool"], amount)
        self.d.call(self.at("Pool", "AavePool"), "supply", token.address, amount, self.me, 0)

    def ensure_reserve(self, spec: ReserveSpec) -> ChecksumAddress:
        if int(self.reserve_tokens(spec)[0], 16) == 0:
            self.init_reserve(spec)
        self.configure_reserve(spec)
        a_token = self.reserve_tokens(spec)[0]
        short = self.seed_units(spec) - self.supplied(a_token)
        if short > 0:
            self.supply(spec, short)
        return a_token

    # the present checks below run after every earlier step is in place, data provider included

    def reserve_ready(self, spec: ReserveSpec) -> bool:
        """Listed with the recorded aToken, configured, and the deployer's supply in place."""
        a_token = self.reserve_tokens(spec)[0]
        if int(a_token, 16) == 0 or a_token != self.found.get(f"a{spec.label}"):
            return False
        configured = all(self.configured(spec).values())
        return configured and self.supplied(a_token) >= self.seed_units(spec)

    def debt_token(self, spec: ReserveSpec, index: int) -> ChecksumAddress:
        return self.reserve_tokens(spec)[index]

    def debt_token_recorded(self, spec: ReserveSpec, index: int, key: str) -> bool:
        return self.found.get(key) == self.reserve_tokens(spec)[index]


def aave_steps(d: Deployer, found: dict[str, ChecksumAddress], chain: Path | None) -> list[Step]:
    """(name, deploy, is-already-there) in dependency order; reads the V2 step's tokens."""
    m = _Market(d, found, chain)
    provider = partial(m.deploy, "PoolAddressesProvider", MARKET_ID, m.me)
    steps: list[Step] = [
        (_PROVIDER, provider, m.provider_present),
        ("AaveACLManager", m.deploy_acl, m.acl_present),
    ]
    for lib in (*POOL_LIBRARIES, "ConfiguratorLogic"):
        deploy = partial(m.deploy, lib, links=LIBRARY_LINKS.get(lib, ()))
        steps.append((f"Aave{lib}", deploy, partial(m.has, f"Aave{lib}")))
    impl, configurator_impl = "AavePoolImpl", "AavePoolConfiguratorImpl"
    pool_impl = partial(m.deploy_for, "Pool", _PROVIDER, links=POOL_LIBRARIES)
    pool = partial(m.set_proxy, "setPoolImpl", "getPool", impl)
    configurator = partial(m.deploy, "PoolConfigurator", links=("ConfiguratorLogic",))
    steps += [
        (impl, pool_impl, partial(m.serves, "Pool", impl)),
        ("AavePool", pool, partial(m.proxy_present, "getPool", "AavePool", impl)),
        (configurator_impl, configurator, partial(m.has, configurator_impl)),
        ("AavePoolConfigurator", m.deploy_configurator, m.configurator_present),
    ]
    for spec in RESERVES:
        answer = spec.price_usd * ORACLE_UNIT
        source = partial(m.deploy, "MockAggregator", answer)
        steps.append((f"AavePriceSource{spec.label}", source, partial(m.source_present, spec)))
    return steps + _market_steps(m)


def _market_steps(m: _Market) -> list[Step]:
    data_provider, strategy = "AaveProtocolDataProvider", "DefaultReserveInterestRateStrategy"
    provided = partial(m.provides, "getPoolDataProvider", data_provider)
    steps: list[Step] = [
        ("AaveOracle", m.deploy_oracle, m.oracle_present),
        (data_provider, m.deploy_data_provider, provided),
    ]
    for contract, _, _ in _TOKEN_KINDS:
        key = f"Aave{contract}Impl"
        deploy = partial(m.deploy_for, contract, "AavePool")
        steps.append((key, deploy, partial(m.token_impl_present, contract, key)))
    rates = partial(m.deploy_for, strategy, _PROVIDER, *RATE_STRATEGY)
    steps.append(
        ("AaveInterestRateStrategy", rates, partial(m.serves, strategy, "AaveInterestRateStrategy"))
    )
    for spec in RESERVES:
        ready = partial(m.reserve_ready, spec)
        steps.append((f"a{spec.label}", partial(m.ensure_reserve, spec), ready))
        for index, prefix in ((1, "stableDebt"), (2, "variableDebt")):
            key = f"{prefix}{spec.label}"
            read = partial(m.debt_token, spec, index)
            steps.append((key, read, partial(m.debt_token_recorded, spec, index, key)))
    return steps
