"""KeystoreWallet on a real anvil with the devnet contracts, its password in a real LocalVault.

One anvil per module (started here, so these tests do not depend on the devnet folder's fixtures);
every test makes its own fresh account, so no test sees another's balances or nonces.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from grekko.adapters.devnet.deploy import Deployer, Deployment, contract_at, deploy_all, dev_account
from grekko.adapters.devnet.devnet import Devnet
from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.adapters.vault import LocalVault
from grekko.adapters.wallets import KeystoreWallet, keystore_path
from grekko.ports.wallet import (
    ChainInfo,
    TxRequest,
    UnknownChain,
    WalletError,
    WalletLocked,
    WalletProvider,
)

FAST_SCRYPT_N = 2**14  # real scrypt, cheaper than the default; one test covers the default cost
ETHER = 10**18
ERC20_TRANSFER = [
    {
        "name": "transfer",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]


@dataclass(frozen=True)
class Chain:
    w3: Web3
    chain: ChainInfo
    deployment: Deployment


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    data_dir = tmp_path_factory.mktemp("wallet-chain")
    devnet = Devnet(data_dir)
    info = devnet.up()
    try:
        w3 = Web3(Web3.HTTPProvider(info.rpc_url, request_kwargs={"timeout": 30}))
        deployment = deploy_all(w3, data_dir)
        yield Chain(w3, ChainInfo(info.chain_id, "devnet", info.rpc_url), deployment)
    finally:
        devnet.down()


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalVault]:
    engine: sa.Engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('vault') / 'g.db'}")
    upgrade_to_head(engine)
    yield LocalVault(engine, os.urandom(32))
    engine.dispose()


@pytest.fixture
def secret_name() -> str:
    return f"wallet/{uuid.uuid4().hex[:12]}/keystore_password"


def _new_wallet(
    data_dir: Path, vault: LocalVault, secret: str, chain: Chain, key: bytes | None = None
) -> KeystoreWallet:
    return KeystoreWallet.create(
        data_dir, vault, secret, [chain.chain], private_key=key, scrypt_n=FAST_SCRYPT_N
    )


def _fund(chain: Chain, address: str, wei: int) -> None:
    chain.w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]


def _receipt(chain: Chain, tx_hash: str) -> dict[str, Any]:
    return dict(chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))  # type: ignore[arg-type]


def _key_texts(key: bytes) -> list[str]:
    return [key.hex(), key.hex().upper(), "0x" + key.hex()]


def test_create_writes_a_v3_scrypt_keystore_readable_only_by_its_owner(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    account = Account.create()
    wallet = KeystoreWallet.create(
        tmp_path, vault, secret_name, [chain.chain], private_key=account.key
    )

    path = wallet.keystore_file
    assert path == tmp_path / "keystore" / f"{account.address}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for leak in _key_texts(bytes(account.key)):
        assert leak not in text
    document = json.loads(text)
    assert document["version"] == 3
    assert document["crypto"]["kdf"] == "scrypt"
    assert document["crypto"]["kdfparams"]["n"] == 2**18
    assert Web3.to_checksum_address(document["address"]) == account.address

    # the password was drawn at random into the vault, and opens the file
    assert secret_name in vault.names()
    assert Account.decrypt(document, vault.get(secret_name)) == account.key
    assert wallet.address == account.address
    assert not wallet.is_connected()
    assert wallet.get_accounts() == []
    assert wallet.connect() == [account.address]
    assert wallet.get_accounts() == [account.address]

    with pytest.raises(WalletError, match="already exists"):
        KeystoreWallet.create(tmp_path, vault, secret_name, [chain.chain], private_key=account.key)


def test_reopened_wallet_unlocks_with_the_vault_password_and_refuses_a_wrong_one(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    created = _new_wallet(tmp_path, vault, secret_name, chain)
    reopened = KeystoreWallet.open(tmp_path, created.address, vault, secret_name, [chain.chain])
    assert reopened.connect() == [created.address]
    reopened.disconnect()

    right = vault.get(secret_name)
    wrong = "not-the-keystore-password-" + uuid.uuid4().hex
    vault.put(secret_name, wrong)
    with pytest.raises(WalletError, match="does not open the keystore") as refused:
        reopened.connect()
    assert wrong not in str(refused.value)
    assert right not in str(refused.value)
    assert refused.value.__cause__ is None
    assert not reopened.is_connected()

    vault.delete(secret_name)
    with pytest.raises(WalletError, match="not in the secret store"):
        reopened.connect()
    with pytest.raises(WalletError, match="no keystore file"):
        KeystoreWallet.open(tmp_path, Account.create().address, vault, secret_name, [chain.chain])


def test_sign_message_recovers_to_the_address(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    wallet = _new_wallet(tmp_path, vault, secret_name, chain)
    wallet.connect()
    text_sig = wallet.sign_message("Sign in to Grekko: nonce 42")
    bytes_sig = wallet.sign_message(b"\x00\x01raw bytes")

    assert len(text_sig) == 65
    recovered = Account.recover_message(
        encode_defunct(text="Sign in to Grekko: nonce 42"), signature=text_sig
    )
    assert recovered == wallet.address
    assert Account.recover_message(encode_defunct(b"\x00\x01raw bytes"), signature=bytes_sig) == (
        wallet.address
    )


def test_sign_transaction_offline_needs_every_field_and_recovers_to_the_sender(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    wallet = _new_wallet(tmp_path, vault, secret_name, chain)
    wallet.connect()
    tx = TxRequest(
        to=dev_account(1).address,
        value=123,
        gas=21_000,
        nonce=7,
        max_fee_per_gas=3 * 10**9,
        max_priority_fee_per_gas=10**9,
    )
    signed = wallet.sign_transaction(tx)

    assert signed.raw[0] == 2  # EIP-2718 type byte of an EIP-1559 transaction
    assert Account.recover_transaction(signed.raw) == wallet.address
    assert (signed.sender, signed.chain_id, signed.nonce) == (wallet.address, 31337, 7)
    assert signed.tx_hash == "0x" + Web3.keccak(signed.raw).hex().removeprefix("0x")

    with pytest.raises(WalletError, match="needs gas, nonce"):
        wallet.sign_transaction(TxRequest(to=dev_account(1).address, value=1))


def test_a_locked_wallet_refuses_to_sign_or_send(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    wallet = _new_wallet(tmp_path, vault, secret_name, chain)
    complete = TxRequest(
        to=dev_account(1).address,
        gas=21_000,
        nonce=0,
        max_fee_per_gas=2,
        max_priority_fee_per_gas=1,
    )

    def refuses() -> None:
        with pytest.raises(WalletLocked, match="locked"):
            wallet.sign_message("hello")
        with pytest.raises(WalletLocked):
            wallet.sign_transaction(complete)
        with pytest.raises(WalletLocked):
            wallet.send_transaction(TxRequest(to=dev_account(1).address, value=1))

    refuses()
    wallet.connect()
    wallet.sign_message("hello")
    wallet.disconnect()
    assert not wallet.is_connected()
    refuses()


def test_send_eth_moves_the_balance_and_never_logs_the_key(
    tmp_path: Path,
    vault: LocalVault,
    secret_name: str,
    chain: Chain,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = Account.create()
    wallet = _new_wallet(tmp_path, vault, secret_name, chain, key=bytes(account.key))
    _fund(chain, wallet.address, 5 * ETHER)
    recipient = Account.create().address
    caplog.set_level(logging.DEBUG)

    wallet.connect()
    tx_hash = wallet.send_transaction(TxRequest(to=recipient, value=ETHER))
    receipt = _receipt(chain, tx_hash)

    assert receipt["status"] == 1
    assert wallet.get_balance(recipient) == ETHER
    spent = ETHER + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert wallet.get_balance(wallet.address) == 5 * ETHER - spent
    # nonce from the pending count, explicit gas passed through as given
    second = wallet.send_transaction(TxRequest(to=recipient, value=1, gas=50_000))
    sent = chain.w3.eth.get_transaction(second)  # type: ignore[arg-type]
    assert (sent["nonce"], sent["gas"]) == (1, 50_000)
    assert _receipt(chain, second)["status"] == 1

    # the send was logged, so the log is not trivially empty (the hash itself may be masked: the
    # platform's log redaction masks every 32-byte hex string, since a private key looks like one)
    assert f"from {wallet.address}" in caplog.text
    for leak in _key_texts(bytes(account.key)):
        assert leak not in caplog.text
        assert leak not in repr(wallet)
        assert leak not in str(wallet)
    assert wallet.address in repr(wallet)
    assert "unlocked" in repr(wallet)


def test_erc20_transfer_changes_balance_of(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    usdc_address = chain.deployment.contracts["USDC"]
    usdc = contract_at(chain.w3, "USDC", usdc_address)
    wallet = _new_wallet(tmp_path, vault, secret_name, chain)
    _fund(chain, wallet.address, ETHER)
    Deployer(chain.w3, dev_account()).call(usdc, "transfer", wallet.address, 1_000 * 10**6)
    assert wallet.get_balance(wallet.address, token=usdc_address) == 1_000 * 10**6

    recipient = Account.create().address
    token = chain.w3.eth.contract(address=usdc_address, abi=ERC20_TRANSFER)
    data = bytes.fromhex(token.encode_abi("transfer", args=[recipient, 250 * 10**6])[2:])
    wallet.connect()
    receipt = _receipt(chain, wallet.send_transaction(TxRequest(to=usdc_address, data=data)))

    assert receipt["status"] == 1
    assert wallet.get_balance(recipient, token=usdc_address) == 250 * 10**6
    assert wallet.get_balance(wallet.address, token=usdc_address) == 750 * 10**6
    assert usdc.functions.balanceOf(recipient).call() == 250 * 10**6


def test_a_failing_send_raises_a_wallet_error_without_the_key_and_fires_error(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    account = Account.create()
    wallet = _new_wallet(tmp_path, vault, secret_name, chain, key=bytes(account.key))
    _fund(chain, wallet.address, ETHER)
    usdc_address = chain.deployment.contracts["USDC"]
    token = chain.w3.eth.contract(address=usdc_address, abi=ERC20_TRANSFER)
    overdraw = token.encode_abi("transfer", args=[dev_account(1).address, 10**6])
    errors: list[object] = []
    wallet.on("error", errors.append)
    wallet.connect()

    with pytest.raises(WalletError, match="refused the transaction") as refused:
        wallet.send_transaction(TxRequest(to=usdc_address, data=bytes.fromhex(overdraw[2:])))

    assert errors == [refused.value]
    shown = f"{refused.value!s} {refused.value!r} {refused.value.__cause__!r}"
    for leak in _key_texts(bytes(account.key)):
        assert leak not in shown


def test_chain_switching_and_events_reach_handlers_until_off(
    tmp_path: Path, vault: LocalVault, secret_name: str, chain: Chain
) -> None:
    wallet: WalletProvider = _new_wallet(tmp_path, vault, secret_name, chain)
    other = ChainInfo(1, "mainnet", "http://127.0.0.1:9")
    seen: list[tuple[str, object]] = []

    def record(event: str) -> Any:
        return lambda payload: seen.append((event, payload))

    handlers = {e: record(e) for e in ("accountsChanged", "chainChanged", "connect", "disconnect")}
    for event, handler in handlers.items():
        wallet.on(event, handler)  # type: ignore[arg-type]

    address = wallet.connect()[0]
    with pytest.raises(UnknownChain, match="chain 1 is not one of"):
        wallet.switch_chain(1)
    wallet.add_chain(other)
    assert {c.chain_id for c in wallet.supported_chains} == {31337, 1}
    wallet.switch_chain(1)
    wallet.switch_chain(1)  # already there: no event
    assert wallet.chain_id == 1
    wallet.switch_chain(31337)
    wallet.disconnect()
    assert seen == [
        ("connect", 31337),
        ("accountsChanged", [address]),
        ("chainChanged", 1),
        ("chainChanged", 31337),
        ("accountsChanged", []),
        ("disconnect", None),
    ]

    seen.clear()
    wallet.off("chainChanged", handlers["chainChanged"])
    wallet.off("accountsChanged", handlers["accountsChanged"])
    wallet.switch_chain(1)
    wallet.connect()
    assert seen == [("connect", 1)]
    with pytest.raises(WalletError, match="unknown wallet event"):
        wallet.on("chainchanged", handlers["connect"])  # type: ignore[arg-type]


def test_keystore_path_rejects_a_non_address(tmp_path: Path) -> None:
    with pytest.raises(WalletError, match="is not an Ethereum address"):
        keystore_path(tmp_path, "../../etc/passwd")
