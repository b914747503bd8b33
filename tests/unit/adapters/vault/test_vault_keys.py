"""Master key sources: GREKKO_MASTER_KEY in hex or base64, or a passphrase through scrypt."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from grekko.adapters.vault import key_from_env, key_from_passphrase, new_master_key
from grekko.core.errors import ConfigError

RAW = bytes(range(100, 132))


@pytest.mark.parametrize(
    "text",
    [
        RAW.hex(),
        RAW.hex().upper(),
        base64.b64encode(RAW).decode(),
        base64.urlsafe_b64encode(RAW).decode(),
        f"  {base64.b64encode(RAW).decode()}\n",
    ],
)
def test_master_key_in_hex_or_base64(text: str) -> None:
    assert key_from_env(text) == RAW


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a key at all",
        RAW.hex()[:-2],  # 31 bytes
        base64.b64encode(RAW + b"x").decode(),  # 33 bytes
        base64.b64encode(RAW[:16]).decode(),
        "zz" * 32,
    ],
)
def test_a_bad_master_key_is_a_clear_error_that_does_not_echo_it(text: str) -> None:
    with pytest.raises(ConfigError, match="GREKKO_MASTER_KEY must be 32 random bytes") as info:
        key_from_env(text)
    if text:
        assert text not in str(info.value)


def test_new_master_key_is_accepted_and_random() -> None:
    first, second = new_master_key(), new_master_key()
    assert first != second
    assert len(key_from_env(first)) == 32


def test_passphrase_key_is_scrypt_with_the_documented_parameters() -> None:
    salt = bytes(16)
    expected = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(b"hunter2 hunter2")
    assert key_from_passphrase("hunter2 hunter2", salt) == expected
    assert key_from_passphrase("hunter2 hunter2", bytes([1]) * 16) != expected


def test_passphrase_inputs_are_checked() -> None:
    with pytest.raises(ConfigError, match="must not be empty"):
        key_from_passphrase("", bytes(16))
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        key_from_passphrase("passphrase", b"short")
