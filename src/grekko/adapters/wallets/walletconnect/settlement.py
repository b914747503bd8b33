"""What Grekko asks of a wallet and what it accepts back: the namespaces it proposes, the checks a
settlement must pass, and the dApp's requests (personal_sign, eth_sendTransaction) built from the
platform's types.

A wallet answers a proposal with namespaces of its choosing; a session is taken only when they
cover every chain, method and event proposed, name an account on each proposed chain and expire
in the future. Anything less would leave the platform with a session that refuses what it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from grekko.adapters.wallets.walletconnect.messages import (
    EthTransaction,
    InvalidPayload,
    ProposalNamespace,
    Request,
    SessionRequestParams,
    SessionSettleParams,
    eth_send_transaction,
    personal_sign,
)
from grekko.ports.wallet import TxRequest, WalletError

NAMESPACE = "eip155"
METHODS = ("eth_sendTransaction", "personal_sign")
EVENTS = ("accountsChanged", "chainChanged")
REJECTED_NAMESPACES = (5100, "Unsupported namespace key.")  # the SDK's UNSUPPORTED_NAMESPACE_KEY
MAX_SESSION_S = 7 * 86_400  # the SDK's SESSION_EXPIRY: what its dApp side grants on an extend


def proposal_namespaces(chain_ids: Sequence[int]) -> dict[str, ProposalNamespace]:
    if not chain_ids:
        raise WalletError("WalletConnect needs at least one chain to propose")
    chains = tuple(f"{NAMESPACE}:{chain_id}" for chain_id in chain_ids)
    return {NAMESPACE: ProposalNamespace(METHODS, EVENTS, chains)}


def settled_accounts(
    settle: SessionSettleParams, proposed: dict[str, ProposalNamespace], now: float
) -> tuple[list[str], list[int]]:
    """The checksummed accounts and the chain ids of a settlement, once it is known to cover the
    proposal; WalletError says what it lacks."""
    if settle.expiry <= now:
        raise WalletError(f"the wallet's session expired already (expiry {settle.expiry})")
    for key, wanted in proposed.items():
        granted = settle.namespaces.get(key)
        if granted is None:
            raise WalletError(f"the wallet did not grant the {key} namespace")
        for kind, asked, given in (
            ("methods", wanted.methods, granted.methods),
            ("events", wanted.events, granted.events),
        ):
            missing = sorted(set(asked) - set(given))
            if missing:
                raise WalletError(f"the wallet did not grant the {kind} {missing}")
        account_chains = {account.rsplit(":", 1)[0] for account in granted.accounts}
        missing_chains = sorted(set(wanted.chains or ()) - account_chains)
        if missing_chains:
            raise WalletError(f"the wallet named no account on {missing_chains}")
    return _accounts_and_chains(settle)


def capped_expiry(requested: int, now: float) -> int:
    """The expiry a wallet asks for (settle, extend), at most a week from now, as the SDK's dApp
    side allows: a wallet cannot keep a session open for good."""
    return min(requested, int(now) + MAX_SESSION_S)


def _accounts_and_chains(settle: SessionSettleParams) -> tuple[list[str], list[int]]:
    accounts: list[str] = []
    chains: list[int] = []
    for namespace in settle.namespaces.values():
        for account in namespace.accounts:
            space, reference, address = account.split(":", 2)
            if space != NAMESPACE or not Web3.is_address(address):
                continue
            checksummed = Web3.to_checksum_address(address)
            if checksummed not in accounts:
                accounts.append(checksummed)
            if reference.isdigit() and int(reference) not in chains:
                chains.append(int(reference))
    if not accounts:
        raise WalletError(f"the wallet granted no {NAMESPACE} account")
    return accounts, chains


def transaction_call(chain_id: int, sender: str, tx: TxRequest) -> Request[SessionRequestParams]:
    """eth_sendTransaction for a TxRequest: the wallet fills in what is left None."""
    fields: dict[str, Any] = {"from": sender, "to": tx.to, "value": hex(tx.value)}
    if tx.data:
        fields["data"] = "0x" + tx.data.hex()
    for name, value in (
        ("gas", tx.gas),
        ("nonce", tx.nonce),
        ("maxFeePerGas", tx.max_fee_per_gas),
        ("maxPriorityFeePerGas", tx.max_priority_fee_per_gas),
    ):
        if value is not None:
            fields[name] = hex(value)
    return raw_transaction_call(chain_id, fields)


def raw_transaction_call(chain_id: int, fields: object) -> Request[SessionRequestParams]:
    """eth_sendTransaction from its JSON parameter as the API receives it."""
    try:
        tx = msgspec.convert(fields, EthTransaction)
        return eth_send_transaction(f"{NAMESPACE}:{chain_id}", tx)
    except (msgspec.ValidationError, InvalidPayload) as exc:
        raise WalletError(f"not an eth_sendTransaction parameter: {exc}") from None


def asked_transaction(call: Request[SessionRequestParams]) -> dict[str, Any]:
    """eth_sendTransaction's object as sent, with the chain id it was asked on."""
    asked: dict[str, Any] = msgspec.to_builtins(call.params.request.params[0])
    return {**asked, "chainId": hex(int(call.params.chain_id.rsplit(":", 1)[1]))}


def sign_call(chain_id: int, message: str | bytes, address: str) -> Request[SessionRequestParams]:
    try:
        return personal_sign(f"{NAMESPACE}:{chain_id}", message, address)
    except InvalidPayload as exc:
        raise WalletError(f"not a personal_sign request: {exc}") from None


def message_bytes(message: str | bytes) -> bytes:
    """personal_sign's message as bytes: 0x-hex is read as the bytes it spells, as wallets do."""
    if isinstance(message, bytes):
        return message
    if message.startswith("0x"):
        try:
            return bytes.fromhex(message[2:])
        except ValueError:
            pass
    return message.encode("utf-8")


def check_signature(message: bytes, signature: str, address: str) -> bytes:
    """The signature's bytes, once it recovers to `address`: a wallet's word is not taken."""
    signed = bytes.fromhex(signature.removeprefix("0x"))
    try:
        signer = Account.recover_message(encode_defunct(primitive=message), signature=signed)
    except Exception as exc:  # eth_keys raises several types for a malformed signature
        raise WalletError(f"the wallet's signature cannot be checked: {exc}") from None
    if signer.lower() != address.lower():
        raise WalletError(f"the wallet's signature recovers to {signer}, not to {address}")
    return signed
