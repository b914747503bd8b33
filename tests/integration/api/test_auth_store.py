"""SqlAuthStore on real SQLite and PostgreSQL: rows round-trip, unique columns answer None/False,
and the single-use updates (refresh rotation, SIWE nonces) let exactly one caller win."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from auth_support import postgres_engine, postgres_url, sqlite_engine

from grekko.adapters.sql.auth_store import SqlAuthStore

__all__ = ["postgres_url"]  # the fixture, imported for pytest

NS = 1_000_000_000
T = 1_767_225_600 * NS


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlAuthStore]:
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path)
        yield SqlAuthStore(engine, owns_engine=True)
        engine.dispose()
    else:
        url = request.getfixturevalue("postgres_url")
        for engine in postgres_engine(url):
            yield SqlAuthStore(engine)


def test_users_round_trip_and_unique_columns(store: SqlAuthStore) -> None:
    alice = store.insert_user("alice", "$argon2id$x", "trader", T)
    assert alice is not None
    assert (alice.username, alice.role, alice.totp_enabled, alice.disabled) == (
        "alice",
        "trader",
        False,
        False,
    )
    assert store.insert_user("alice", "$argon2id$y", "viewer", T) is None
    bob = store.insert_user("bob", "!", "viewer", T + 1, wallet_address="0x" + "ab" * 20)
    assert bob is not None
    assert bob.id != alice.id
    assert store.insert_user("carol", "!", "viewer", T, wallet_address="0x" + "ab" * 20) is None
    assert store.get_user_by_wallet("0x" + "ab" * 20) == bob
    assert store.get_user_by_username("alice") == alice
    assert store.get_user(999_999) is None
    assert [u.username for u in store.list_users()] == ["alice", "bob"]
    assert store.count_users() == 2


def test_update_user_and_active_role_count(store: SqlAuthStore) -> None:
    admin = store.insert_user("root", "h", "admin", T)
    other = store.insert_user("other", "h", "admin", T)
    assert admin is not None
    assert other is not None
    assert store.count_active("admin") == 2
    assert store.update_user(other.id, disabled=True, totp_secret="S", totp_enabled=True)  # noqa: S106
    assert store.count_active("admin") == 1
    updated = store.get_user(other.id)
    assert updated is not None
    assert (
        updated.disabled,
        updated.totp_secret,
        updated.totp_enabled,
    ) == (
        True,
        "S",
        True,
    )
    assert not store.update_user(424242, role="viewer")
    assert store.update_user(admin.id, wallet_address="0x" + "01" * 20)
    assert not store.update_user(other.id, wallet_address="0x" + "01" * 20)  # taken
    with pytest.raises(ValueError, match="not updatable"):
        store.update_user(admin.id, username="x")


def test_refresh_rotation_is_single_use_and_families_revoke_whole(store: SqlAuthStore) -> None:
    store.insert_refresh("j1", "famA", 1, T, T + 100 * NS)
    store.insert_refresh("j2", "famA", 1, T, T + 100 * NS)
    store.insert_refresh("k1", "famB", 1, T, T + 100 * NS)
    assert store.mark_refresh_used("j1", T + 1)
    assert not store.mark_refresh_used("j1", T + 2)
    row = store.get_refresh("j1")
    assert row is not None
    assert row.used_at == T + 1
    assert row.revoked_at is None
    assert not store.family_revoked("famA")
    assert store.revoke_family("famA", T + 3) == 2
    assert store.family_revoked("famA")
    assert not store.family_revoked("famB")
    assert not store.mark_refresh_used("j2", T + 4)  # revoked tokens cannot be spent
    assert store.revoke_user_refresh(1, T + 5) == 1  # only famB was still live
    assert store.purge_refresh(T + 101 * NS) == 3
    assert store.get_refresh("k1") is None


def test_concurrent_rotation_has_one_winner(store: SqlAuthStore) -> None:
    store.insert_refresh("race", "fam", 1, T, T + 100 * NS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        wins = list(pool.map(lambda i: store.mark_refresh_used("race", T + i), range(8)))
    assert wins.count(True) == 1


def test_api_keys(store: SqlAuthStore) -> None:
    key = store.insert_api_key("0123456789abcdef", 7, "bot", "h" * 64, "viewer", T)
    assert store.get_api_key("0123456789abcdef") == key
    store.insert_api_key("fedcba9876543210", 8, "other", "g" * 64, "trader", T + 1)
    assert [k.key_id for k in store.list_api_keys(7)] == ["0123456789abcdef"]
    assert len(store.list_api_keys()) == 2
    store.touch_api_key(key.key_id, T + 9)
    assert store.revoke_api_key(key.key_id, T + 10)
    assert not store.revoke_api_key(key.key_id, T + 11)
    again = store.get_api_key(key.key_id)
    assert again is not None
    assert (again.last_used_at, again.revoked_at) == (T + 9, T + 10)


def test_nonces_are_single_use_and_expire(store: SqlAuthStore) -> None:
    store.insert_nonce("n1", T, T + 300 * NS)
    store.insert_nonce("n2", T, T + 300 * NS)
    assert store.consume_nonce("n1", T + NS)
    assert not store.consume_nonce("n1", T + 2 * NS)
    assert not store.consume_nonce("unknown", T)
    assert not store.consume_nonce("n2", T + 300 * NS)  # expired at its expiry instant
    assert store.purge_nonces(T + 301 * NS) == 2
    store.insert_nonce("n3", T, T + 1)
    with pytest.raises(sa.exc.IntegrityError):
        store.insert_nonce("n3", T, T + 1)
