"""SqlAuthStore: users, refresh tokens, API keys and SIWE nonces in the SQL database.

Only rows go in and out; every rule (who may do what, hashing, token lifetimes) is the auth
service's. The single-use guarantees (a refresh token rotated once, a SIWE nonce consumed once)
are conditional UPDATEs (`... WHERE used_at IS NULL`) whose row count says who won, so two
requests racing with the same token cannot both succeed, on SQLite or PostgreSQL.

All timestamps are UTC integer nanoseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from grekko.adapters.sql import tables

_u = tables.users.c
_r = tables.refresh_tokens.c
_k = tables.api_keys.c
_n = tables.siwe_nonces.c


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    password_hash: str
    role: str
    totp_secret: str | None
    totp_enabled: bool
    wallet_address: str | None
    disabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class RefreshRow:
    jti: str
    family_id: str
    user_id: int
    issued_at: int
    expires_at: int
    used_at: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    key_id: str
    user_id: int
    name: str
    key_hash: str
    role: str
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


def _user(row: Any) -> UserRow:
    m = row._mapping
    return UserRow(
        id=int(m["id"]),
        username=m["username"],
        password_hash=m["password_hash"],
        role=m["role"],
        totp_secret=m["totp_secret"],
        totp_enabled=bool(m["totp_enabled"]),
        wallet_address=m["wallet_address"],
        disabled=bool(m["disabled"]),
        created_at=int(m["created_at"]),
    )


def _refresh(row: Any) -> RefreshRow:
    return RefreshRow(**dict(row._mapping))


def _key(row: Any) -> ApiKeyRow:
    return ApiKeyRow(**dict(row._mapping))


class SqlAuthStore:
    """The auth service's persistence over an engine whose schema is migrated to head.

    The engine is the caller's unless owns_engine is set, in which case close() disposes it.
    Methods that may collide with a unique column (username, wallet address) return None or
    False instead of raising, so the service can answer with a clear conflict.
    """

    def __init__(self, engine: sa.Engine, *, owns_engine: bool = False) -> None:
        self.engine = engine
        self._owns_engine = owns_engine

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as connection:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                yield connection

    def _read_one(self, query: sa.Select[Any]) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(query).first()

    # ---- users ---------------------------------------------------------------------------------
    def insert_user(
        self,
        username: str,
        password_hash: str,
        role: str,
        created_at: int,
        *,
        wallet_address: str | None = None,
    ) -> UserRow | None:
        """The new user, or None when the username or wallet address is taken."""
        values = {
            "username": username,
            "password_hash": password_hash,
            "role": role,
            "created_at": created_at,
            "wallet_address": wallet_address,
            "totp_enabled": False,
            "disabled": False,
        }
        try:
            with self._write() as connection:
                new_id = connection.execute(
                    sa.insert(tables.users).values(values).returning(_u.id)
                ).scalar_one()
        except sa.exc.IntegrityError:
            return None
        return self.get_user(int(new_id))

    def get_user(self, user_id: int) -> UserRow | None:
        row = self._read_one(sa.select(tables.users).where(_u.id == user_id))
        return None if row is None else _user(row)

    def get_user_by_username(self, username: str) -> UserRow | None:
        row = self._read_one(sa.select(tables.users).where(_u.username == username))
        return None if row is None else _user(row)

    def get_user_by_wallet(self, wallet_address: str) -> UserRow | None:
        row = self._read_one(sa.select(tables.users).where(_u.wallet_address == wallet_address))
        return None if row is None else _user(row)

    def list_users(self) -> list[UserRow]:
        with self.engine.connect() as connection:
            return [_user(r) for r in connection.execute(sa.select(tables.users).order_by(_u.id))]

    def count_users(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).select_from(tables.users)
                ).scalar_one()
            )

    def count_active(self, role: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(tables.users)
            .where(_u.role == role, _u.disabled == sa.false())
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def update_user(self, user_id: int, **changes: Any) -> bool:
        """Set columns of one user (role, disabled, password_hash, totp_secret, totp_enabled,
        wallet_address); False when there is no such user or a unique column collides."""
        allowed = {
            "role",
            "disabled",
            "password_hash",
            "totp_secret",
            "totp_enabled",
            "wallet_address",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if not changes:
            return self.get_user(user_id) is not None
        try:
            with self._write() as connection:
                result = connection.execute(
                    sa.update(tables.users).where(_u.id == user_id).values(changes)
                )
        except sa.exc.IntegrityError:
            return False
        return result.rowcount == 1

    # ---- refresh tokens ------------------------------------------------------------------------
    def insert_refresh(
        self, jti: str, family_id: str, user_id: int, issued_at: int, expires_at: int
    ) -> None:
        with self._write() as connection:
            connection.execute(
                sa.insert(tables.refresh_tokens).values(
                    jti=jti,
                    family_id=family_id,
                    user_id=user_id,
                    issued_at=issued_at,
                    expires_at=expires_at,
                )
            )

    def get_refresh(self, jti: str) -> RefreshRow | None:
        row = self._read_one(sa.select(tables.refresh_tokens).where(_r.jti == jti))
        return None if row is None else _refresh(row)

    def mark_refresh_used(self, jti: str, used_at: int) -> bool:
        """True for the one caller that used the token first (and only if it is not revoked)."""
        query = (
            sa.update(tables.refresh_tokens)
            .where(_r.jti == jti, _r.used_at.is_(None), _r.revoked_at.is_(None))
            .values(used_at=used_at)
        )
        with self._write() as connection:
            return connection.execute(query).rowcount == 1

    def revoke_family(self, family_id: str, revoked_at: int) -> int:
        return self._revoke_refresh(_r.family_id == family_id, revoked_at)

    def revoke_user_refresh(self, user_id: int, revoked_at: int) -> int:
        return self._revoke_refresh(_r.user_id == user_id, revoked_at)

    def _revoke_refresh(self, which: sa.ColumnElement[bool], revoked_at: int) -> int:
        query = (
            sa.update(tables.refresh_tokens)
            .where(which, _r.revoked_at.is_(None))
            .values(revoked_at=revoked_at)
        )
        with self._write() as connection:
            return int(connection.execute(query).rowcount)

    def family_revoked(self, family_id: str) -> bool:
        """A family is revoked as a whole, so any revoked member says so."""
        query = (
            sa.select(_r.jti).where(_r.family_id == family_id, _r.revoked_at.is_not(None)).limit(1)
        )
        return self._read_one(query) is not None

    def purge_refresh(self, before: int) -> int:
        """Drop tokens that expired before `before`: they can no longer be presented."""
        with self._write() as connection:
            result = connection.execute(
                sa.delete(tables.refresh_tokens).where(_r.expires_at < before)
            )
            return int(result.rowcount)

    # ---- API keys ------------------------------------------------------------------------------
    def insert_api_key(
        self, key_id: str, user_id: int, name: str, key_hash: str, role: str, created_at: int
    ) -> ApiKeyRow:
        with self._write() as connection:
            connection.execute(
                sa.insert(tables.api_keys).values(
                    key_id=key_id,
                    user_id=user_id,
                    name=name,
                    key_hash=key_hash,
                    role=role,
                    created_at=created_at,
                )
            )
        return ApiKeyRow(key_id, user_id, name, key_hash, role, created_at, None, None)

    def get_api_key(self, key_id: str) -> ApiKeyRow | None:
        row = self._read_one(sa.select(tables.api_keys).where(_k.key_id == key_id))
        return None if row is None else _key(row)

    def list_api_keys(self, user_id: int | None = None) -> list[ApiKeyRow]:
        query = sa.select(tables.api_keys).order_by(_k.created_at, _k.key_id)
        if user_id is not None:
            query = query.where(_k.user_id == user_id)
        with self.engine.connect() as connection:
            return [_key(r) for r in connection.execute(query)]

    def revoke_api_key(self, key_id: str, revoked_at: int) -> bool:
        query = (
            sa.update(tables.api_keys)
            .where(_k.key_id == key_id, _k.revoked_at.is_(None))
            .values(revoked_at=revoked_at)
        )
        with self._write() as connection:
            return connection.execute(query).rowcount == 1

    def touch_api_key(self, key_id: str, used_at: int) -> None:
        with self._write() as connection:
            connection.execute(
                sa.update(tables.api_keys).where(_k.key_id == key_id).values(last_used_at=used_at)
            )

    # ---- SIWE nonces ---------------------------------------------------------------------------
    def insert_nonce(self, nonce: str, created_at: int, expires_at: int) -> None:
        with self._write() as connection:
            connection.execute(
                sa.insert(tables.siwe_nonces).values(
                    nonce=nonce, created_at=created_at, expires_at=expires_at
                )
            )

    def consume_nonce(self, nonce: str, now: int) -> bool:
        """True once for a stored, unused, unexpired nonce; it is spent by this call."""
        query = (
            sa.update(tables.siwe_nonces)
            .where(_n.nonce == nonce, _n.used_at.is_(None), _n.expires_at > now)
            .values(used_at=now)
        )
        with self._write() as connection:
            return connection.execute(query).rowcount == 1

    def purge_nonces(self, before: int) -> int:
        with self._write() as connection:
            result = connection.execute(sa.delete(tables.siwe_nonces).where(_n.expires_at < before))
            return int(result.rowcount)
