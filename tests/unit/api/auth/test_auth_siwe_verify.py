"""verify_siwe without a database: a real key's signature over a real EIP-4361 message is
accepted; any edit of the message or signature, and any garbage, is a counted 401 refusal."""

from __future__ import annotations

import warnings
from collections import Counter
from datetime import UTC, datetime

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.api.auth.siwe_login import normalize_address, verify_siwe
from grekko.api.problems import ApiProblem

DOMAIN = "127.0.0.1:8000"
T0 = 1_767_225_600.0
ACCOUNT = Account.from_key("0x" + "42" * 32)  # a fixed key: examples must be reproducible
REJECTIONS: Counter[str] = Counter()


def message(nonce: str = "0123456789abcdef", **fields: object) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from siwe import SiweMessage
    values: dict[str, object] = {
        "domain": DOMAIN,
        "address": ACCOUNT.address,
        "uri": f"http://{DOMAIN}/",
        "version": "1",
        "chain_id": 31337,
        "nonce": nonce,
        "issued_at": datetime.fromtimestamp(T0, tz=UTC).isoformat().replace("+00:00", "Z"),
    }
    values.update(fields)
    return str(SiweMessage(**values).prepare_message())


def signature(text: str) -> str:
    return "0x" + bytes(ACCOUNT.sign_message(encode_defunct(text=text)).signature).hex()


TEXT = message()
SIGNATURE = signature(TEXT)


def verify(text: str, sig: str) -> str:
    """'ok' or the problem code; anything else escaping is a failure of the test."""
    try:
        verify_siwe(text, sig, domain=DOMAIN, chain_id=31337, now_s=T0 + 1)
    except ApiProblem as problem:
        REJECTIONS[problem.code] += 1
        return problem.code if problem.status == 401 else f"status {problem.status}"
    return "ok"


def test_the_real_signature_verifies() -> None:
    verified = verify_siwe(TEXT, SIGNATURE, domain=DOMAIN, chain_id=31337, now_s=T0)
    assert verified.address == ACCOUNT.address.lower()
    assert verified.nonce == "0123456789abcdef"


def test_addresses_normalize_or_refuse() -> None:
    assert normalize_address(ACCOUNT.address) == ACCOUNT.address.lower()
    with pytest.raises(ApiProblem):
        normalize_address("0x123")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(TEXT) - 1), st.characters(codec="utf-8"))
def test_any_single_edit_of_the_message_is_refused(at: int, char: str) -> None:
    edited = TEXT[:at] + char + TEXT[at + 1 :]
    outcome = verify(edited, SIGNATURE)
    assert outcome == "ok" if edited == TEXT else outcome.startswith("siwe_")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=131), st.sampled_from("0123456789abcdef"))
def test_any_single_edit_of_the_signature_is_refused(at: int, digit: str) -> None:
    edited = SIGNATURE[:at] + digit + SIGNATURE[at + 1 :]
    outcome = verify(TEXT, edited)
    assert outcome == "ok" if edited == SIGNATURE else outcome == "siwe_signature_invalid"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600), st.text(max_size=140))
def test_garbage_never_escapes_as_anything_but_a_refusal(text: str, sig: str) -> None:
    assert verify(text, sig).startswith("siwe_")
    assert verify(
        DOMAIN + " wants you to sign in with your Ethereum account:\n" + text, sig
    ).startswith("siwe_")


def test_crafted_backtracking_input_is_refused() -> None:
    for text in ("x." * 2000, "a" * 4096, DOMAIN + " " * 4000, "x" * 5000):
        assert verify(text, SIGNATURE).startswith("siwe_")


def test_rejections_were_counted() -> None:
    verify("", SIGNATURE)
    assert REJECTIONS["siwe_invalid"] >= 1
