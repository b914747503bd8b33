"""SecretStore port: exchange API secrets, wallet keys and the like, kept encrypted at rest.

Names are paths such as "exchange/coinbase/api_secret" or "wallet/default/private_key". A store
lists names but never values, so a listing can be shown or logged. Names starting with "__" are
reserved for a store's own bookkeeping (the local vault keeps its salt and key check there).
"""

from __future__ import annotations

import re
from typing import Protocol

from grekko.core.errors import GrekkoError

MAX_NAME_LENGTH = 200
MAX_VALUE_BYTES = 64 * 1024
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")


class SecretStoreError(GrekkoError):
    """A secret store that cannot serve a request: wrong key, tampering, server unreachable."""


class SecretNotFound(SecretStoreError, KeyError):
    """No secret of that name; a KeyError too, so `except KeyError` works as with a dict."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"no secret named {self.name!r}"


class WrongVaultKey(SecretStoreError):
    """The key (or the passphrase it came from) is not the one the vault was created with."""


class SecretTampered(SecretStoreError):
    """A stored ciphertext failed authentication: altered, truncated or moved to another name."""


class VaultUnavailable(SecretStoreError):
    """The secret backend cannot be reached or refused the credentials."""


class SecretStore(Protocol):
    def put(self, name: str, value: str) -> None:
        """Create or replace the secret `name`."""
        ...

    def get(self, name: str) -> str:
        """The secret's value; SecretNotFound when there is none."""
        ...

    def delete(self, name: str) -> None:
        """Remove the secret; SecretNotFound when there is none."""
        ...

    def names(self) -> list[str]:
        """Every stored name, sorted; never a value."""
        ...


def check_name(name: str) -> str:
    """Reject names that are not plain slash-separated paths (no "..", no leading "/", no "__")."""
    if not isinstance(name, str) or not name:
        raise SecretStoreError("a secret name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise SecretStoreError(f"a secret name is at most {MAX_NAME_LENGTH} characters")
    if not NAME_PATTERN.fullmatch(name):
        raise SecretStoreError(
            f"secret name {name!r} must be slash-separated parts of letters, digits, '.', '_', "
            "'-', each starting with a letter or digit (e.g. 'exchange/coinbase/api_secret')"
        )
    return name


def check_value(value: str) -> str:
    """Secrets are text (API keys, hex private keys, mnemonics) of a sane size."""
    if not isinstance(value, str):
        raise SecretStoreError(f"a secret value must be str, got {type(value).__name__}")
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise SecretStoreError(f"a secret value is at most {MAX_VALUE_BYTES} bytes")
    return value
