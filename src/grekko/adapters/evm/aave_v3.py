"""Aave V3 reserves and simple flash loans through a Pool and its data provider, signing with a
WalletProvider.

Addresses and ABIs come in through AaveV3Config, so this adapter works on any chain an Aave V3
market lives on (and never imports the devnet that deploys one locally). A flash loan whose
pre-send estimate reverts never goes out and comes back as FlashLoanRejected; so does one that
reverts on chain, its reason read by replaying the call at its block. Reasons are decoded: Aave's
numbered codes are named when the config maps them, and custom errors (an OpenZeppelin 5 token's
ERC20InsufficientBalance, say) are decoded from the error entries of the ABIs given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import abi
from eth_abi.exceptions import DecodingError
from eth_utils.abi import abi_to_signature, function_signature_to_4byte_selector
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from grekko.adapters.evm.nonces import NonceManager
from grekko.adapters.evm.sending import ChainSender
from grekko.adapters.evm.swaps import BPS, revert_reason
from grekko.core.errors import GrekkoError
from grekko.ports.wallet import WalletProvider

HALF_BPS = BPS // 2  # PercentageMath.percentMul rounds half up
_ERROR_STRING = "08c379a0"  # Error(string)
_PANIC = "4e487b71"  # Panic(uint256)


@dataclass(frozen=True)
class AaveV3Config:
    pool: str
    data_provider: str
    pool_abi: Sequence[Mapping[str, Any]]
    data_provider_abi: Sequence[Mapping[str, Any]]
    erc20_abi: Sequence[Mapping[str, Any]]
    # Aave's numbered revert codes -> their names in Errors.sol, e.g. "91" -> "FLASHLOAN_DISABLED"
    error_codes: Mapping[str, str] = field(default_factory=dict)
    # more ABIs whose custom errors may surface (a receiver's, say); pool and erc20 are always read
    error_abis: Sequence[Sequence[Mapping[str, Any]]] = ()


@dataclass(frozen=True)
class AaveReserve:
    asset: str
    symbol: str
    decimals: int
    a_token: str
    available_liquidity: int  # base units of the asset the aToken holds: what can be lent now
    flash_loan_enabled: bool
    borrowing_enabled: bool
    ltv_bps: int
    liquidation_threshold_bps: int
    active: bool
    frozen: bool
    paused: bool


@dataclass(frozen=True)
class FlashLoanResult:
    tx_hash: str
    receiver: str
    asset: str
    amount: int
    premium: int  # base units the pool charged, from its FlashLoan event
    gas_used: int
    fee_wei: int  # gas used * effective gas price
    block_number: int


@dataclass(frozen=True)
class FlashLoanRejected:
    reason: str  # decoded: "FLASHLOAN_DISABLED (91)", "ERC20InsufficientBalance(sender=..., ...)"
    receiver: str
    asset: str
    amount: int
    tx_hash: str | None = None  # None when the revert was caught before sending


class AaveError(GrekkoError):
    """An Aave call that failed for a reason other than the protocol's own revert."""


def percent_mul(value: int, bps: int) -> int:
    """Aave's PercentageMath.percentMul: how the pool turns an amount and a premium into a fee."""
    return (value * bps + HALF_BPS) // BPS


def _error_selectors(abis: Sequence[Sequence[Mapping[str, Any]]]) -> dict[str, Mapping[str, Any]]:
    errors: dict[str, Mapping[str, Any]] = {}
    for entries in abis:
        for entry in entries:
            if entry.get("type") == "error":
                signature = abi_to_signature(entry)  # type: ignore[arg-type]
                errors[function_signature_to_4byte_selector(signature).hex()] = entry
    return errors


class AaveV3:
    """One wallet account reading and flash-borrowing from one Aave V3 pool."""

    def __init__(
        self,
        w3: Web3,
        config: AaveV3Config,
        wallet: WalletProvider,
        nonces: NonceManager | None = None,
    ) -> None:
        self.w3 = w3
        self.config = config
        self.sender = ChainSender(w3, wallet, config.erc20_abi, nonces)
        self.pool = self.sender.contract(config.pool, config.pool_abi)
        self.data_provider = self.sender.contract(config.data_provider, config.data_provider_abi)
        self._errors = _error_selectors([config.pool_abi, config.erc20_abi, *config.error_abis])

    @property
    def nonces(self) -> NonceManager:
        return self.sender.nonces

    # -- reads ----------------------------------------------------------------------------------

    def reserve(self, asset: str) -> AaveReserve:
        asset = Web3.to_checksum_address(asset)
        data = self.data_provider.functions
        conf = data.getReserveConfigurationData(asset).call()
        a_token = Web3.to_checksum_address(data.getReserveTokensAddresses(asset).call()[0])
        erc20 = self.sender.contract(asset, self.config.erc20_abi)
        return AaveReserve(
            asset=asset,
            symbol=str(erc20.functions.symbol().call()),
            decimals=self.sender.decimals(asset),
            a_token=a_token,
            available_liquidity=int(erc20.functions.balanceOf(a_token).call()),
            flash_loan_enabled=bool(data.getFlashLoanEnabled(asset).call()),
            borrowing_enabled=bool(conf[6]),
            ltv_bps=int(conf[1]),
            liquidation_threshold_bps=int(conf[2]),
            active=bool(conf[8]),
            frozen=bool(conf[9]),
            paused=bool(data.getPaused(asset).call()),
        )

    def reserves(self) -> list[AaveReserve]:
        """Every reserve the pool lists, in its listing order."""
        return [self.reserve(asset) for asset in self.pool.functions.getReservesList().call()]

    def flash_loan_premium_bps(self) -> int:
        """The total premium on a flash loan, in basis points of the amount."""
        return int(self.pool.functions.FLASHLOAN_PREMIUM_TOTAL().call())

    def flash_loan_premium(self, amount: int) -> int:
        """What the pool will charge for borrowing `amount` now."""
        return percent_mul(amount, self.flash_loan_premium_bps())

    # -- flash loans ----------------------------------------------------------------------------

    def flash_loan_simple(
        self, receiver: str, asset: str, amount: int, params: bytes = b"", referral_code: int = 0
    ) -> FlashLoanResult | FlashLoanRejected:
        """Lend `amount` of `asset` to `receiver` (an IFlashLoanSimpleReceiver) for one call; it
        must hold the premium and approve the pool for amount + premium before returning."""
        if amount <= 0:
            raise AaveError("a flash loan's amount must be positive")
        receiver, asset = Web3.to_checksum_address(receiver), Web3.to_checksum_address(asset)
        args = [receiver, asset, amount, params, referral_code]
        data = bytes.fromhex(self.pool.encode_abi("flashLoanSimple", args=args).removeprefix("0x"))
        try:
            gas = self.sender.estimate(self.pool.address, data)
        except ContractLogicError as exc:
            return FlashLoanRejected(self.decode_revert(exc), receiver, asset, amount)
        tx_hash = self.sender.send(self.pool.address, data, gas)
        receipt = self.sender.receipt(tx_hash)
        if receipt["status"] != 1:
            reason = self._replay_reason(data, int(receipt["blockNumber"]))
            return FlashLoanRejected(reason, receiver, asset, amount, tx_hash)
        return self._result(tx_hash, receiver, asset, amount, receipt)

    def _result(
        self, tx_hash: str, receiver: str, asset: str, amount: int, receipt: Mapping[str, Any]
    ) -> FlashLoanResult:
        events = self.pool.events.FlashLoan().process_receipt(receipt, errors=DISCARD)
        for event in events:
            args = event["args"]
            if event["address"] != self.pool.address:
                continue
            if (args["target"], args["asset"], int(args["amount"])) == (receiver, asset, amount):
                gas_used = int(receipt["gasUsed"])
                return FlashLoanResult(
                    tx_hash=tx_hash,
                    receiver=receiver,
                    asset=asset,
                    amount=amount,
                    premium=int(args["premium"]),
                    gas_used=gas_used,
                    fee_wei=gas_used * int(receipt["effectiveGasPrice"]),
                    block_number=int(receipt["blockNumber"]),
                )
        raise AaveError(f"flash loan {tx_hash} succeeded but the pool emitted no FlashLoan for it")

    def _replay_reason(self, data: bytes, block: int) -> str:
        """The reason a mined flash loan reverted: the same call run again on that block's state."""
        call: Any = {"from": self.sender.account, "to": self.pool.address, "data": data}
        try:
            self.w3.eth.call(call, block)
        except ContractLogicError as exc:
            return self.decode_revert(exc)
        return "reverted on chain; the replayed call succeeds on the block's final state"

    # -- revert reasons -------------------------------------------------------------------------

    def decode_revert(self, exc: ContractLogicError) -> str:
        """A readable reason from the revert data: a named Aave code, a panic, a custom error."""
        payload = exc.data.removeprefix("0x") if isinstance(exc.data, str) else ""
        if len(payload) < 8:
            return self._named(revert_reason(exc))
        selector, body = payload[:8], bytes.fromhex(payload[8:])
        if selector == _ERROR_STRING:
            return self._named(str(abi.decode(["string"], body)[0]))
        if selector == _PANIC:
            return f"panic 0x{int(abi.decode(['uint256'], body)[0]):02x}"
        error = self._errors.get(selector)
        return _format_error(error, body) if error else f"custom error 0x{payload}"

    def _named(self, reason: str) -> str:
        name = self.config.error_codes.get(reason)
        return f"{name} ({reason})" if name else reason


def _format_error(error: Mapping[str, Any], body: bytes) -> str:
    inputs = error.get("inputs", [])
    types = [str(item["type"]) for item in inputs]
    try:
        values = abi.decode(types, body)
    except DecodingError:  # a mismatched ABI still leaves the error's name
        return f"{error['name']}(undecodable arguments 0x{body.hex()})"
    shown = ", ".join(
        f"{item.get('name') or index}={_shown(str(item['type']), value)}"
        for index, (item, value) in enumerate(zip(inputs, values, strict=True))
    )
    return f"{error['name']}({shown})"


def _shown(kind: str, value: object) -> str:
    return Web3.to_checksum_address(str(value)) if kind == "address" else str(value)
