"""HashiCorpVault without a Vault server: construction checks and clear errors when unreachable.

There is no HashiCorp Vault server on this machine, and a stand-in would only test itself, so
the KV v2 round trip is NOT exercised here: see the module doc of grekko.adapters.vault.hashicorp.
"""

from __future__ import annotations

import socket

import pytest

from grekko.adapters.vault.hashicorp import HashiCorpVault
from grekko.core.errors import ConfigError
from grekko.ports.secrets import SecretStoreError, VaultUnavailable

TOKEN = "hvs.CAESIJ7x0example0token0value0000000000"  # noqa: S105 - made up


@pytest.fixture
def closed_port_url() -> str:
    """A localhost port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "127.0.0.1:8200"}, "must be http"),
        ({"url": "ftp://127.0.0.1:8200"}, "must be http"),
        ({"token": ""}, "token is needed"),
        ({"mount": "/secret"}, "mount"),
        ({"path": "grekko/../other"}, "path"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_construction_checks_its_settings(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"url": "http://127.0.0.1:8200", "token": TOKEN, **kwargs}
    with pytest.raises(ConfigError, match=message):
        HashiCorpVault(**settings)  # type: ignore[arg-type]


def test_construction_makes_no_call_and_hides_the_token() -> None:
    vault = HashiCorpVault("http://127.0.0.1:1/", TOKEN, mount="kv", path="grekko/prod")
    assert vault.url == "http://127.0.0.1:1"
    assert TOKEN not in repr(vault)
    assert "kv" in repr(vault)


def test_every_call_to_an_unreachable_server_is_vault_unavailable(closed_port_url: str) -> None:
    vault = HashiCorpVault(closed_port_url, TOKEN, timeout_s=2)
    calls = [
        vault.check,
        lambda: vault.get("exchange/coinbase/api_secret"),
        lambda: vault.put("exchange/coinbase/api_secret", "value-123456"),
        lambda: vault.delete("exchange/coinbase/api_secret"),
        vault.names,
    ]
    for call in calls:
        with pytest.raises(VaultUnavailable, match="is unreachable") as info:
            call()
        assert closed_port_url in str(info.value)
        assert TOKEN not in str(info.value)


def test_names_are_checked_before_any_request(closed_port_url: str) -> None:
    vault = HashiCorpVault(closed_port_url, TOKEN)
    with pytest.raises(SecretStoreError, match="secret name"):
        vault.get("../etc/passwd")
