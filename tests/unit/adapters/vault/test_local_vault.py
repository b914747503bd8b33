"""LocalVault on real SQLite and PostgreSQL: AES-GCM at rest, name-bound, wrong key detected."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.adapters.sql.engine import build_engine
from grekko.adapters.vault import LocalVault, key_from_passphrase, open_local_vault
from grekko.adapters.vault.local import CHECK_NAME, SALT_BYTES, SALT_NAME
from grekko.core.errors import ConfigError
from grekko.core.time import TestClock
from grekko.ports.secrets import (
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    SecretTampered,
    WrongVaultKey,
)

OpenEngine = Callable[[], sa.Engine]
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
API_SECRET = "cb-secret-5f1e0c9a7d3b4e2f"  # noqa: S105 - made up
PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def _rows(engine: sa.Engine) -> dict[str, tuple[bytes, bytes, int, int]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, nonce, ciphertext, created_at, updated_at FROM secrets"
        ).all()
    return {r[0]: (bytes(r[1]), bytes(r[2]), int(r[3]), int(r[4])) for r in rows}


def test_put_get_delete_and_names(open_engine: OpenEngine) -> None:
    vault: SecretStore = LocalVault(open_engine(), KEY)
    vault.put("exchange/coinbase/api_secret", API_SECRET)
    vault.put("wallet/default/private_key", PRIVATE_KEY)
    vault.put("exchange/coinbase/api_key", "organizations/abc/apiKeys/123")

    assert vault.get("exchange/coinbase/api_secret") == API_SECRET
    assert vault.get("wallet/default/private_key") == PRIVATE_KEY
    assert vault.names() == [
        "exchange/coinbase/api_key",
        "exchange/coinbase/api_secret",
        "wallet/default/private_key",
    ]

    vault.delete("exchange/coinbase/api_key")
    assert "exchange/coinbase/api_key" not in vault.names()
    with pytest.raises(SecretNotFound, match="no secret named 'exchange/coinbase/api_key'"):
        vault.get("exchange/coinbase/api_key")
    with pytest.raises(KeyError):  # a KeyError as with a dict
        vault.delete("exchange/coinbase/api_key")


def test_a_second_process_reads_what_the_first_wrote(open_engine: OpenEngine) -> None:
    LocalVault(open_engine(), KEY).put("exchange/binance/api_secret", "ünïcødé-sécret ✓")
    assert LocalVault(open_engine(), KEY).get("exchange/binance/api_secret") == "ünïcødé-sécret ✓"


def test_values_are_encrypted_at_rest_with_a_fresh_nonce_per_write(
    open_engine: OpenEngine,
) -> None:
    engine = open_engine()
    clock = TestClock(1_000)
    vault = LocalVault(engine, KEY, clock=clock)
    vault.put("wallet/default/private_key", PRIVATE_KEY)
    first = _rows(engine)["wallet/default/private_key"]
    clock.advance(500)
    vault.put("wallet/default/private_key", PRIVATE_KEY)
    second = _rows(engine)["wallet/default/private_key"]

    assert len(first[0]) == 12
    assert first[0] != second[0]  # new nonce
    assert first[1] != second[1]  # so a new ciphertext for the same value
    for _, ciphertext, _, _ in (first, second):
        assert PRIVATE_KEY.encode() not in ciphertext
        assert bytes.fromhex(PRIVATE_KEY[2:]) not in ciphertext
        assert len(ciphertext) == len(PRIVATE_KEY) + 16  # the GCM tag
    assert (second[2], second[3]) == (1_000, 1_500)  # created_at kept, updated_at moved


def test_a_ciphertext_moved_to_another_name_fails(open_engine: OpenEngine) -> None:
    engine = open_engine()
    vault = LocalVault(engine, KEY)
    vault.put("exchange/coinbase/api_secret", API_SECRET)
    vault.put("exchange/kraken/api_secret", "kraken-secret-value")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = :src), "
                "ciphertext = (SELECT ciphertext FROM secrets WHERE name = :src) "
                "WHERE name = :dst"
            ),
            {"src": "exchange/coinbase/api_secret", "dst": "exchange/kraken/api_secret"},
        )
    with pytest.raises(SecretTampered, match="altered or copied from another name"):
        vault.get("exchange/kraken/api_secret")
    assert vault.get("exchange/coinbase/api_secret") == API_SECRET


def test_a_tampered_ciphertext_is_a_clear_error(open_engine: OpenEngine) -> None:
    engine = open_engine()
    vault = LocalVault(engine, KEY)
    vault.put("exchange/coinbase/api_secret", API_SECRET)
    _, ciphertext, _, _ = _rows(engine)["exchange/coinbase/api_secret"]
    flipped = bytes([ciphertext[0] ^ 0x01]) + ciphertext[1:]
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE secrets SET ciphertext = :c WHERE name = :n"),
            {"c": flipped, "n": "exchange/coinbase/api_secret"},
        )
    with pytest.raises(SecretTampered) as excinfo:
        vault.get("exchange/coinbase/api_secret")
    assert API_SECRET not in str(excinfo.value)


def test_a_wrong_key_is_detected_when_opening(open_engine: OpenEngine) -> None:
    LocalVault(open_engine(), KEY).put("exchange/coinbase/api_secret", API_SECRET)
    with pytest.raises(WrongVaultKey, match="wrong passphrase or GREKKO_MASTER_KEY"):
        LocalVault(open_engine(), OTHER_KEY)


def test_a_wrong_key_is_detected_even_without_the_check_row(open_engine: OpenEngine) -> None:
    engine = open_engine()
    LocalVault(engine, KEY).put("exchange/coinbase/api_secret", API_SECRET)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM secrets WHERE name = :n"), {"n": CHECK_NAME})
    with pytest.raises(WrongVaultKey, match="key check value is missing"):
        LocalVault(open_engine(), OTHER_KEY)
    assert LocalVault(open_engine(), KEY).get("exchange/coinbase/api_secret") == API_SECRET
    assert CHECK_NAME in _rows(engine)  # the right key put the check back


def test_passphrase_vault_keeps_its_salt_and_rejects_a_wrong_passphrase(
    open_engine: OpenEngine,
) -> None:
    engine = open_engine()
    vault = LocalVault.open_with_passphrase(engine, "correct horse battery staple")
    vault.put("wallet/default/private_key", PRIVATE_KEY)
    salt = _rows(engine)[SALT_NAME][1]
    assert len(salt) == SALT_BYTES
    assert vault.names() == ["wallet/default/private_key"]  # __salt__, __check__ hidden

    reopened = LocalVault.open_with_passphrase(open_engine(), "correct horse battery staple")
    assert reopened.get("wallet/default/private_key") == PRIVATE_KEY
    assert _rows(engine)[SALT_NAME][1] == salt  # drawn once
    same_key = LocalVault(open_engine(), key_from_passphrase("correct horse battery staple", salt))
    assert same_key.get("wallet/default/private_key") == PRIVATE_KEY
    with pytest.raises(WrongVaultKey):
        LocalVault.open_with_passphrase(open_engine(), "Correct horse battery staple")


def test_rotate_key_reencrypts_everything(open_engine: OpenEngine) -> None:
    engine = open_engine()
    vault = LocalVault.open_with_passphrase(engine, "old passphrase")
    vault.put("exchange/coinbase/api_secret", API_SECRET)
    vault.put("wallet/default/private_key", PRIVATE_KEY)
    before = _rows(engine)

    new_salt = os.urandom(SALT_BYTES)
    vault.rotate_key(key_from_passphrase("new passphrase", new_salt), new_salt=new_salt)

    after = _rows(engine)
    assert after[SALT_NAME][1] == new_salt
    assert before["wallet/default/private_key"][1] != after["wallet/default/private_key"][1]
    assert vault.get("wallet/default/private_key") == PRIVATE_KEY
    reopened = LocalVault.open_with_passphrase(open_engine(), "new passphrase")
    assert reopened.get("exchange/coinbase/api_secret") == API_SECRET
    with pytest.raises(WrongVaultKey):
        LocalVault.open_with_passphrase(open_engine(), "old passphrase")


def test_values_handled_are_reported_for_log_redaction(open_engine: OpenEngine) -> None:
    seen: list[str] = []
    vault = LocalVault(open_engine(), KEY, on_reveal=seen.append)
    vault.put("exchange/coinbase/api_secret", API_SECRET)
    reopened = LocalVault(open_engine(), KEY, on_reveal=seen.append)
    assert reopened.get("exchange/coinbase/api_secret") == API_SECRET
    assert seen == [API_SECRET, API_SECRET]
    assert API_SECRET not in repr(vault)
    assert KEY.hex() not in repr(vault)


@pytest.mark.parametrize(
    "name",
    ["", "/wallet/x", "wallet/../x", "wallet//x", "__salt__", "__check__", "a b", "wallet/x/"],
)
def test_bad_or_reserved_names_are_refused(open_engine: OpenEngine, name: str) -> None:
    vault = LocalVault(open_engine(), KEY)
    with pytest.raises(SecretStoreError, match="secret name"):
        vault.put(name, "value")
    with pytest.raises(SecretStoreError, match="secret name"):
        vault.get(name)


def test_key_must_be_32_bytes(open_engine: OpenEngine) -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        LocalVault(open_engine(), b"short")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(max_size=300))
def test_any_text_round_trips(open_engine: OpenEngine, value: str) -> None:
    vault = LocalVault(open_engine(), KEY)
    vault.put("fuzz/value", value)
    assert vault.get("fuzz/value") == value


def test_open_local_vault_takes_the_key_from_the_environment(open_engine: OpenEngine) -> None:
    engine = open_engine()
    by_key = open_local_vault(engine, {"GREKKO_MASTER_KEY": KEY.hex()})
    by_key.put("exchange/coinbase/api_secret", API_SECRET)
    assert open_local_vault(open_engine(), {"GREKKO_MASTER_KEY": KEY.hex()}).names() == [
        "exchange/coinbase/api_secret"
    ]
    with pytest.raises(WrongVaultKey):  # the vault was made with the master key
        open_local_vault(open_engine(), {"GREKKO_VAULT_PASSPHRASE": "a passphrase"})
    with pytest.raises(ConfigError, match="needs GREKKO_MASTER_KEY"):
        open_local_vault(open_engine(), {})


def test_an_unmigrated_database_is_a_clear_error(tmp_path: Path) -> None:
    engine = build_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(SecretStoreError, match="is the database reachable and migrated"):
            LocalVault(engine, KEY)
    finally:
        engine.dispose()
