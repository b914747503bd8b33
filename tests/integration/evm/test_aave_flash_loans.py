"""Aave V3 flash loans on the devnet's real Aave pool (npm bytecode of @aave/core-v3 1.19.3),
borrowed by the keystore wallet through the adapter and received by our FlashLoanProbe."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from evm_chain_support import EvmChain
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from grekko.adapters.devnet.artifacts import load_artifact, load_artifact_file
from grekko.adapters.devnet.deploy import Deployer, contract_at, dev_account
from grekko.adapters.devnet.deploy_aave import (
    FLASH_LOAN_PREMIUM_BPS,
    RESERVES,
    aave_abi,
    aave_error_codes,
)
from grekko.adapters.evm.aave_v3 import AaveV3, AaveV3Config, FlashLoanRejected, FlashLoanResult

USDC = 10**6


def _premium(amount: int, bps: int) -> int:
    """PercentageMath.percentMul as Aave computes it: amount * bps / 10000, half rounded up."""
    return (amount * bps + 5_000) // 10_000


@pytest.fixture
def aave(evm: EvmChain) -> AaveV3:
    contracts = evm.deployment.contracts
    config = AaveV3Config(
        pool=contracts["AavePool"],
        data_provider=contracts["AaveProtocolDataProvider"],
        pool_abi=aave_abi("Pool"),
        data_provider_abi=aave_abi("AaveProtocolDataProvider"),
        erc20_abi=load_artifact("GrekkoToken").abi,
        error_codes=aave_error_codes(),
    )
    return AaveV3(evm.w3, config, evm.wallet)


def _probe(evm: EvmChain, premium_funds: int = 0, symbol: str = "USDC") -> Contract:
    """A fresh FlashLoanProbe holding `premium_funds` of the token, sent by the deployer."""
    deployer = Deployer(evm.w3, dev_account())
    artifact = load_artifact_file("FlashLoanProbe", "build/FlashLoanProbe.json")
    provider = evm.deployment.contracts["AavePoolAddressesProvider"]
    address = deployer.deploy(artifact, provider)
    if premium_funds:
        token = contract_at(evm.w3, symbol, evm.token(symbol))
        deployer.call(token, "transfer", address, premium_funds)
    return evm.w3.eth.contract(address=address, abi=artifact.abi)


def _balance(evm: EvmChain, token: str, owner: str) -> int:
    erc20 = contract_at(evm.w3, "USDC", token)  # any devnet token: they share one ABI
    return int(erc20.functions.balanceOf(owner).call())


def test_reserves_are_listed_with_liquidity_and_flash_loans(evm: EvmChain, aave: AaveV3) -> None:
    reserves = {r.symbol: r for r in aave.reserves()}
    assert set(reserves) == {"USDC", "WETH", "WBTC"}
    decimals = {"USDC": 6, "WETH": 18, "WBTC": 8}
    for spec in RESERVES:
        reserve = reserves[spec.label]
        assert reserve.asset == evm.token(spec.key)
        assert reserve.a_token == evm.deployment.contracts[f"a{spec.label}"]
        assert reserve.decimals == decimals[spec.label]
        assert reserve.available_liquidity == spec.seed * 10 ** decimals[spec.label]
        assert reserve.flash_loan_enabled
        assert reserve.borrowing_enabled
        assert reserve.active
        assert not reserve.frozen
        assert not reserve.paused
        assert reserve.ltv_bps == spec.ltv_bps
        assert reserve.liquidation_threshold_bps == spec.liquidation_threshold_bps
    assert aave.flash_loan_premium_bps() == FLASH_LOAN_PREMIUM_BPS == 5


@pytest.mark.parametrize(
    "amount",
    [1, 999, 1_000, 1_234_567_891, 10_000_000 * USDC],
    ids=["dust-no-premium", "rounds-down", "half-rounds-up", "odd", "all-liquidity"],
)
def test_usdc_flash_loan_charges_the_premium_exactly(
    evm: EvmChain, aave: AaveV3, amount: int
) -> None:
    usdc, a_usdc = evm.token("USDC"), evm.deployment.contracts["aUSDC"]
    premium = _premium(amount, 5)
    probe = _probe(evm, premium)
    liquidity = _balance(evm, usdc, a_usdc)
    result = aave.flash_loan_simple(probe.address, usdc, amount)
    assert isinstance(result, FlashLoanResult), result
    assert result.premium == premium == aave.flash_loan_premium(amount)
    assert (result.receiver, result.asset, result.amount) == (probe.address, usdc, amount)
    receipt = evm.w3.eth.get_transaction_receipt(result.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 1
    assert result.gas_used == receipt["gasUsed"] > 0
    assert probe.functions.lastAsset().call() == usdc
    assert probe.functions.lastAmount().call() == amount
    assert probe.functions.lastPremium().call() == premium
    assert probe.functions.lastInitiator().call() == evm.wallet.address
    assert probe.functions.balanceDuringLoan().call() == amount + premium
    assert probe.functions.loans().call() == 1
    received = probe.events.FlashLoanReceived().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["amount"], e["args"]["premium"]) for e in received] == [(amount, premium)]
    assert _balance(evm, usdc, probe.address) == 0  # the premium went to the pool
    assert _balance(evm, usdc, a_usdc) == liquidity + premium


def test_weth_flash_loan_on_the_wrapped_reserve(evm: EvmChain, aave: AaveV3) -> None:
    amount = 123 * 10**18 + 7
    premium = _premium(amount, 5)
    deployer = Deployer(evm.w3, dev_account())
    weth = contract_at(evm.w3, "WETH9", evm.token("WETH9"))
    probe = _probe(evm)
    deployer.call(weth, "deposit", value=premium)
    deployer.call(weth, "transfer", probe.address, premium)
    result = aave.flash_loan_simple(probe.address, weth.address, amount)
    assert isinstance(result, FlashLoanResult), result
    assert result.premium == premium
    assert weth.functions.balanceOf(probe.address).call() == 0


def test_a_loan_beyond_the_liquidity_is_rejected_before_sending(
    evm: EvmChain, aave: AaveV3
) -> None:
    usdc, a_usdc = evm.token("USDC"), evm.deployment.contracts["aUSDC"]
    available = _balance(evm, usdc, a_usdc)
    probe = _probe(evm, 10**6 * USDC)
    block = evm.w3.eth.block_number
    result = aave.flash_loan_simple(probe.address, usdc, available + 1)
    assert isinstance(result, FlashLoanRejected), result
    # the aToken cannot hand out more than it holds: the token's own custom error, decoded
    assert result.reason == (
        f"ERC20InsufficientBalance(sender={a_usdc}, balance={available}, needed={available + 1})"
    )
    assert result.tx_hash is None
    assert evm.w3.eth.block_number == block  # nothing was sent
    assert probe.functions.loans().call() == 0


def test_a_probe_without_the_premium_is_rejected(evm: EvmChain, aave: AaveV3) -> None:
    usdc = evm.token("USDC")
    amount = 1_000 * USDC
    premium = _premium(amount, 5)
    probe = _probe(evm)  # holds nothing of its own
    result = aave.flash_loan_simple(probe.address, usdc, amount)
    assert isinstance(result, FlashLoanRejected), result
    # the pool pulls amount + premium back and the probe only has the amount
    assert result.reason == (
        f"ERC20InsufficientBalance(sender={probe.address}, balance={amount}, "
        f"needed={amount + premium})"
    )
    assert result.tx_hash is None
    assert probe.functions.loans().call() == 0


def test_disabled_flash_loans_come_back_with_aaves_named_reason(
    evm: EvmChain, aave: AaveV3
) -> None:
    configurator = evm.w3.eth.contract(
        address=evm.deployment.contracts["AavePoolConfigurator"],
        abi=aave_abi("PoolConfigurator"),
    )
    wbtc = evm.token("WBTC")
    Deployer(evm.w3, dev_account()).call(configurator, "setReserveFlashLoaning", wbtc, False)
    assert not aave.reserve(wbtc).flash_loan_enabled
    result = aave.flash_loan_simple(_probe(evm, 10**8, "WBTC").address, wbtc, 10**8)
    assert isinstance(result, FlashLoanRejected), result
    assert result.reason == "FLASHLOAN_DISABLED (91)"


def test_the_probe_takes_calls_from_the_pool_only(evm: EvmChain) -> None:
    probe = _probe(evm)
    call = probe.functions.executeOperation(evm.token("USDC"), 1, 0, evm.wallet.address, b"")
    with pytest.raises(ContractLogicError, match="caller is not the pool"):
        call.call({"from": Web3.to_checksum_address(evm.wallet.address)})


@contextmanager
def _manual_mining(w3: Web3) -> Iterator[None]:
    """Blocks are mined only on evm_mine, so transactions can be queued into one block."""
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def _wait_for_pending(w3: Web3, count: int) -> None:
    for _ in range(500):
        status = w3.provider.make_request("txpool_status", [])["result"]  # type: ignore[arg-type]
        if int(status["pending"], 16) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"{count} transactions never reached the pool")


def test_a_loan_that_reverts_on_chain_reports_the_replayed_reason(
    evm: EvmChain, aave: AaveV3
) -> None:
    """The estimate passes on the latest block, but a pricier transaction queued ahead of the
    loan in the same block turns flash loans off: the mined loan reverts, and its reason is read
    by replaying it on that block."""
    w3, usdc, amount = evm.w3, evm.token("USDC"), 5_000 * USDC
    probe = _probe(evm, _premium(amount, 5))
    configurator = w3.eth.contract(
        address=evm.deployment.contracts["AavePoolConfigurator"], abi=aave_abi("PoolConfigurator")
    )
    admin = dev_account()
    disable: dict[str, Any] = {
        "to": configurator.address,
        "data": configurator.encode_abi("setReserveFlashLoaning", args=[usdc, False]),
        "nonce": w3.eth.get_transaction_count(admin.address),
        "gas": 300_000,
        "gasPrice": 1_000 * 10**9,  # well above the wallet's tip: first in the block
        "chainId": w3.eth.chain_id,
    }
    with _manual_mining(w3), ThreadPoolExecutor(max_workers=1) as pool:
        w3.eth.send_raw_transaction(admin.sign_transaction(disable).raw_transaction)
        loan = pool.submit(aave.flash_loan_simple, probe.address, usdc, amount)
        _wait_for_pending(w3, 2)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        result = loan.result(timeout=30)
    assert isinstance(result, FlashLoanRejected), result
    assert result.tx_hash is not None
    assert w3.eth.get_transaction_receipt(result.tx_hash)["status"] == 0  # type: ignore[arg-type]
    assert result.reason == "FLASHLOAN_DISABLED (91)"
    assert probe.functions.loans().call() == 0
