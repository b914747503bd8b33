"""Usernames, passwords and the API key format: what is accepted, what is refused, and that
no text at all makes the key parser or the rules raise anything but their own refusal."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.api.auth.passwords import Passwords, check_password, check_username
from grekko.api.auth.views import (
    api_key_matches,
    hash_api_key_secret,
    new_api_key_text,
    split_api_key,
)
from grekko.api.problems import ApiProblem


@pytest.mark.parametrize("name", ["alice", "Bob_2", "0xabc", "a.b-c", "x" * 64])
def test_good_usernames_are_canonical_lower_case(name: str) -> None:
    assert check_username(name) == name.lower()


@pytest.mark.parametrize("name", ["ab", "x" * 65, "-lead", "_lead", "with space", "ünï", "a/b", ""])
def test_bad_usernames_are_refused(name: str) -> None:
    with pytest.raises(ApiProblem) as caught:
        check_username(name)
    assert (caught.value.status, caught.value.code) == (422, "invalid_username")


def test_password_length_rules() -> None:
    check_password("x" * 12)
    check_password("y" * 1024)
    for bad in ("x" * 11, "z" * 1025, ""):
        with pytest.raises(ApiProblem) as caught:
            check_password(bad)
        assert caught.value.code == "weak_password"


def test_hashes_verify_only_their_password() -> None:
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
    stored = passwords.hash("a long enough secret")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "a long enough secret")
    assert not passwords.verify(stored, "a long enough secreT")
    assert not passwords.verify("!", "anything at all")  # wallet-only users
    assert not passwords.verify("not a hash", "anything at all")
    passwords.burn("whatever")


def test_api_key_format_round_trip() -> None:
    key_id, secret, text = new_api_key_text()
    assert split_api_key(text) == (key_id, secret)
    assert len(key_id) == 16
    assert len(secret) == 43
    assert hash_api_key_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert api_key_matches(secret, hash_api_key_secret(secret))
    assert not api_key_matches(secret + "x", hash_api_key_secret(secret))
    assert len({new_api_key_text()[2] for _ in range(100)}) == 100


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_any_text_is_a_key_or_a_clean_refusal(text: str) -> None:
    parts = split_api_key(text)
    if parts is not None:
        assert text == f"gk_{parts[0]}_{parts[1]}"
    codes = []
    try:
        check_username(text)
    except ApiProblem as problem:
        codes.append(problem.code)
    assert codes in ([], ["invalid_username"])
