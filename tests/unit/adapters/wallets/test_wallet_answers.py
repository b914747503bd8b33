"""What a wallet's answer is checked against: the mined transaction compared with the one asked,
one hash for one request, a session's expiry bounded, and the request as it was sent."""

from __future__ import annotations

from typing import Any

import pytest
from hexbytes import HexBytes

from grekko.adapters.wallets.answers import AnsweredHashes, transaction_mismatch
from grekko.adapters.wallets.walletconnect.settlement import (
    MAX_SESSION_S,
    asked_transaction,
    capped_expiry,
    transaction_call,
)
from grekko.ports.wallet import TxRequest

ME = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
WETH = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
ASKED = {
    "from": ME,
    "to": WETH,
    "value": hex(3 * 10**17),
    "data": "0xd0e30db0",
    "chainId": "0x7a69",
}


def mined(**changes: Any) -> dict[str, Any]:
    """A transaction as web3 returns it: ints, HexBytes input, checksummed or lower addresses."""
    tx: dict[str, Any] = {
        "from": ME.lower(),
        "to": WETH,
        "value": 3 * 10**17,
        "input": HexBytes("0xd0e30db0"),
        "chainId": 31337,
        "gas": 123_456,  # MetaMask's user may change gas and fees: not compared
        "maxFeePerGas": 7,
    }
    tx.update(changes)
    return tx


def test_the_mined_transaction_asked_for_passes() -> None:
    assert transaction_mismatch(ASKED, mined()) == ""
    as_json = mined(value=hex(3 * 10**17), input="0xD0E30DB0", chainId="0x7a69")
    assert transaction_mismatch(ASKED, as_json) == ""


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"from": WETH}, "sent from another account"),
        ({"to": ME}, "sent to another address"),
        ({"to": None}, "sent to another address"),
        ({"value": 1}, "sent another value"),
        ({"input": HexBytes("0x")}, "sent other calldata"),
        ({"input": HexBytes("0xd0e30db000")}, "sent other calldata"),
        ({"chainId": 1}, "sent on another chain"),
    ],
)
def test_each_difference_is_named(changes: dict[str, Any], why: str) -> None:
    assert transaction_mismatch(ASKED, mined(**changes)) == why


def test_unset_value_and_data_mean_zero_and_empty() -> None:
    asked = {"from": ME, "to": WETH}
    assert transaction_mismatch(asked, mined(value=0, input=HexBytes(""))) == ""
    assert transaction_mismatch(asked, mined(value=1, input=HexBytes(""))) == "sent another value"
    legacy = mined(value=0, input=HexBytes(""))
    del legacy["chainId"]  # a pre-EIP-155 transaction carries none: the rest still counts
    assert transaction_mismatch({**asked, "chainId": "0x1"}, legacy) == ""


def test_a_hash_answers_one_request_only() -> None:
    hashes = AnsweredHashes(kept=2)
    first = "0x" + "ab" * 32
    assert hashes.claim(first, "r1") is None
    assert hashes.claim(first, "r1") is None  # the same answer again is the same answer
    assert hashes.claim(first.upper().replace("0X", "0x"), "r2") == "r1"
    assert hashes.claim("0x" + "cd" * 32, "r3") is None
    assert hashes.claim("0x" + "ef" * 32, "r4") is None
    assert hashes.claim(first, "r5") is None  # forgotten: only the newest `kept` are held


def test_a_wallet_cannot_keep_a_session_open_for_good() -> None:
    now = 1_800_000_000.5
    assert capped_expiry(1_800_003_600, now) == 1_800_003_600
    assert capped_expiry(4_000_000_000, now) == 1_800_000_000 + MAX_SESSION_S


def test_the_transaction_asked_is_what_was_sent_with_its_chain() -> None:
    call = transaction_call(31337, ME, TxRequest(to=WETH, value=5, data=b"\xd0\xe3\x0d\xb0"))
    asked = asked_transaction(call)
    assert asked == {
        "from": ME,
        "to": WETH,
        "value": "0x5",
        "data": "0xd0e30db0",
        "chainId": "0x7a69",
    }
    assert transaction_mismatch(asked, mined(value=5)) == ""
