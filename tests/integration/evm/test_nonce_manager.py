"""NonceManager: concurrent sends through a real KeystoreWallet on anvil, and the gap rules."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from evm_chain_support import EvmChain
from hypothesis import given
from hypothesis import strategies as st
from web3 import Web3

from grekko.adapters.devnet.deploy import dev_account
from grekko.adapters.evm import NonceManager
from grekko.ports.wallet import TxRequest, WalletError

SENDS = 50


def _pending(evm: EvmChain) -> NonceManager:
    def count(chain_id: int, address: str) -> int:
        assert chain_id == evm.wallet.chain_id
        return int(evm.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    return NonceManager(count)


def test_fifty_concurrent_sends_all_mine_with_consecutive_distinct_nonces(evm: EvmChain) -> None:
    wallet, w3 = evm.wallet, evm.w3
    sender = Web3.to_checksum_address(wallet.address)
    nonces = _pending(evm)
    start = int(w3.eth.get_transaction_count(sender, "pending"))
    to = dev_account(3).address

    def send(i: int) -> str:
        nonce = nonces.next(wallet.chain_id, wallet.address)
        return wallet.send_transaction(TxRequest(to=to, value=i + 1, gas=21_000, nonce=nonce))

    with ThreadPoolExecutor(max_workers=8) as pool:
        hashes = list(pool.map(send, range(SENDS)))

    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=30) for h in hashes]  # type: ignore[arg-type]
    assert all(r["status"] == 1 for r in receipts)
    sent: list[Any] = [w3.eth.get_transaction(h) for h in hashes]  # type: ignore[arg-type]
    assert sorted(int(tx["nonce"]) for tx in sent) == list(range(start, start + SENDS))
    assert w3.eth.get_transaction_count(sender) == start + SENDS
    assert nonces.peek(wallet.chain_id, wallet.address) == start + SENDS


def test_a_refused_send_releases_its_nonce_so_the_next_send_fills_the_gap(evm: EvmChain) -> None:
    wallet, w3 = evm.wallet, evm.w3
    sender = Web3.to_checksum_address(wallet.address)
    nonces = _pending(evm)
    start = int(w3.eth.get_transaction_count(sender, "pending"))
    too_much = int(w3.eth.get_balance(sender)) * 2

    nonce = nonces.next(wallet.chain_id, wallet.address)
    with pytest.raises(WalletError, match="refused"):
        wallet.send_transaction(
            TxRequest(to=dev_account(3).address, value=too_much, gas=21_000, nonce=nonce)
        )
    nonces.release(wallet.chain_id, wallet.address, nonce)

    again = nonces.next(wallet.chain_id, wallet.address)
    assert again == start
    tx_hash = wallet.send_transaction(
        TxRequest(to=dev_account(3).address, value=1, gas=21_000, nonce=again)
    )
    assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1  # type: ignore[arg-type]
    assert w3.eth.get_transaction_count(sender) == start + 1


def test_resync_reads_the_nodes_count_after_sends_made_elsewhere(evm: EvmChain) -> None:
    wallet = evm.wallet
    nonces = _pending(evm)
    first = nonces.next(wallet.chain_id, wallet.address)
    tx_hash = wallet.send_transaction(TxRequest(to=dev_account(3).address, value=1, gas=21_000))
    evm.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)  # type: ignore[arg-type]
    assert nonces.resync(wallet.chain_id, wallet.address) == first + 1
    assert nonces.next(wallet.chain_id, wallet.address) == first + 1


@given(
    start=st.integers(0, 10**6),
    ops=st.lists(st.one_of(st.just(-1), st.integers(0, 30)), max_size=60),
)
def test_handed_out_nonces_stay_distinct_and_gapless(start: int, ops: list[int]) -> None:
    """Whatever is taken and given back, the nonces held are distinct, and taking enough more
    always closes every gap: held plus those still to take form one run from `start`."""
    manager = NonceManager(lambda _chain, _address: start)
    held: list[int] = []
    for op in ops:
        if op == -1 or not held:
            held.append(manager.next(1, "0xA"))
        else:
            manager.release(1, "0xA", held.pop(op % len(held)))
        assert len(set(held)) == len(held)
    top = manager.peek(1, "0xA")
    if top is None:
        assert held == []
        return
    while len(held) < top - start:
        held.append(manager.next(1, "0xA"))
    assert sorted(held) == list(range(start, start + len(held)))
