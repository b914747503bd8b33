"""HashiCorpVault: the SecretStore port on a HashiCorp Vault KV version 2 engine, through hvac.

The secret "exchange/coinbase/api_secret" lives at `<mount>/data/<path>/exchange/coinbase/api_secret`
as the one field `value`. Vault does the encryption, versioning and access control; delete removes
every version and the metadata, so a deleted secret cannot be read back from history.

No call is made at construction: `check()` asks the server whether it is up and the token valid,
and every other call turns a network failure or a refused token into VaultUnavailable (a clear
message naming the server, never the token) instead of a requests or hvac exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import requests

from grekko.core.errors import ConfigError
from grekko.ports.secrets import (
    NAME_PATTERN,
    SecretNotFound,
    SecretStoreError,
    VaultUnavailable,
    check_name,
    check_value,
)

T = TypeVar("T")
Reveal = Callable[[str], None]
_FIELD = "value"


class HashiCorpVault:
    """Secrets under one path of one KV v2 mount; `token` is a Vault token (e.g. VAULT_TOKEN)."""

    def __init__(
        self,
        url: str,
        token: str,
        mount: str = "secret",
        path: str = "grekko",
        *,
        timeout_s: float = 10.0,
        on_reveal: Reveal | None = None,
    ) -> None:
        parts = urlsplit(url or "")
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(f"the HashiCorp Vault URL must be http(s)://host:port, got {url!r}")
        if not token:
            raise ConfigError("a HashiCorp Vault token is needed (set VAULT_TOKEN)")
        for label, value in (("mount", mount), ("path", path)):
            if not NAME_PATTERN.fullmatch(value or ""):
                raise ConfigError(f"the HashiCorp Vault {label} {value!r} is not a plain path")
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {timeout_s}")
        self.url = url.rstrip("/")
        self.mount = mount
        self.path = path
        self._client = hvac.Client(url=self.url, token=token, timeout=timeout_s)
        self._kv = self._client.secrets.kv.v2
        self._on_reveal = on_reveal

    def __repr__(self) -> str:
        return f"HashiCorpVault({self.url!r}, mount={self.mount!r}, path={self.path!r})"

    def check(self) -> None:
        """Raise VaultUnavailable unless the server answers and accepts the token."""
        if not self._call(self._client.is_authenticated):
            raise VaultUnavailable(f"HashiCorp Vault at {self.url} refused the token")

    def put(self, name: str, value: str) -> None:
        check_name(name)
        check_value(value)
        if self._on_reveal is not None:
            self._on_reveal(value)
        self._call(
            lambda: self._kv.create_or_update_secret(
                path=self._path(name), secret={_FIELD: value}, mount_point=self.mount
            )
        )

    def get(self, name: str) -> str:
        check_name(name)
        response = self._call(
            lambda: self._kv.read_secret_version(
                path=self._path(name), mount_point=self.mount, raise_on_deleted_version=True
            ),
            missing=name,
        )
        try:
            value = response["data"]["data"][_FIELD]
        except (KeyError, TypeError) as exc:
            raise SecretStoreError(
                f"secret {name!r} in HashiCorp Vault has no {_FIELD!r} field: not written by Grekko"
            ) from exc
        if not isinstance(value, str):
            raise SecretStoreError(f"secret {name!r} in HashiCorp Vault is not a string")
        if self._on_reveal is not None:
            self._on_reveal(value)
        return value

    def delete(self, name: str) -> None:
        check_name(name)
        path = self._path(name)
        self._call(
            lambda: self._kv.read_secret_metadata(path=path, mount_point=self.mount), missing=name
        )
        self._call(
            lambda: self._kv.delete_metadata_and_all_versions(path=path, mount_point=self.mount)
        )

    def names(self) -> list[str]:
        found: list[str] = []
        pending = [""]
        while pending:
            folder = pending.pop()
            for key in self._list(folder):
                if key.endswith("/"):
                    pending.append(folder + key)
                else:
                    found.append(folder + key)
        return sorted(found)

    def _list(self, folder: str) -> list[str]:
        try:
            response = self._call(
                lambda: self._kv.list_secrets(
                    path=f"{self.path}/{folder}".rstrip("/"), mount_point=self.mount
                ),
                missing=folder or self.path,
            )
        except SecretNotFound:
            return []
        keys = response.get("data", {}).get("keys", []) if isinstance(response, dict) else []
        return [str(key) for key in keys]

    def _path(self, name: str) -> str:
        return f"{self.path}/{name}"

    def _call(self, request: Callable[[], T], *, missing: str | None = None) -> T:
        try:
            return request()
        except hvac.exceptions.InvalidPath as exc:
            if missing is not None:
                raise SecretNotFound(missing) from exc
            raise SecretStoreError(f"HashiCorp Vault at {self.url}: path not found") from exc
        except (hvac.exceptions.Unauthorized, hvac.exceptions.Forbidden) as exc:
            raise VaultUnavailable(
                f"HashiCorp Vault at {self.url} refused the token for {self.mount}/{self.path}"
            ) from exc
        except (hvac.exceptions.VaultDown, hvac.exceptions.VaultNotInitialized) as exc:
            raise VaultUnavailable(
                f"HashiCorp Vault at {self.url} is sealed or not set up"
            ) from exc
        except hvac.exceptions.VaultError as exc:
            raise SecretStoreError(
                f"HashiCorp Vault at {self.url} answered an error: {type(exc).__name__}"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise VaultUnavailable(
                f"HashiCorp Vault at {self.url} is unreachable ({type(exc).__name__})"
            ) from exc
