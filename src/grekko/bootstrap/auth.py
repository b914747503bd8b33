"""Wiring for authentication: the SQL auth store, the JWT secret, the AuthService.

The JWT secret is 32 random bytes in `<data_dir>/jwt.key` (created 0600 on first use), unless
GREKKO_JWT_SECRET is set (at least 32 characters), as a container would provide it. Losing the
file only ends every session (users log in again); it holds no password or key material.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

import sqlalchemy as sa

from grekko.api.auth.service import AuthService
from grekko.core.errors import ConfigError
from grekko.settings import Settings

JWT_SECRET_ENV = "GREKKO_JWT_SECRET"  # noqa: S105 - a variable name
JWT_KEY_FILE = "jwt.key"
JWT_SECRET_BYTES = 32


def load_jwt_secret(data_dir: Path, env: Mapping[str, str] | None = None) -> bytes:
    """GREKKO_JWT_SECRET, else the key file, created on first use; refuses a readable file."""
    environ = os.environ if env is None else env
    from_env = environ.get(JWT_SECRET_ENV)
    if from_env:
        if len(from_env) < JWT_SECRET_BYTES:
            raise ConfigError(f"{JWT_SECRET_ENV} must be at least {JWT_SECRET_BYTES} characters")
        return from_env.encode()
    path = data_dir / JWT_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from exc
    secret = secrets.token_bytes(JWT_SECRET_BYTES)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    return secret


def _read_key(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path} is readable by others: chmod 600 {path}")
        secret = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(secret) < JWT_SECRET_BYTES:
        raise ConfigError(f"{path} holds fewer than {JWT_SECRET_BYTES} bytes; delete it to renew")
    return secret


def auth_service_for(
    settings: Settings,
    engine: sa.Engine,
    *,
    encrypt: Callable[[str], str] | None = None,
    decrypt: Callable[[str], str] | None = None,
    env: Mapping[str, str] | None = None,
    owns_engine: bool = False,
) -> AuthService:
    """An AuthService over a migrated engine (e.g. the event store's, which its owner closes).

    encrypt/decrypt protect stored TOTP secrets (pass the vault's), both or neither.
    """
    from grekko.adapters.sql.auth_store import SqlAuthStore

    api = settings.api
    return AuthService(
        SqlAuthStore(engine, owns_engine=owns_engine),
        jwt_secret=load_jwt_secret(settings.data_dir, env),
        access_ttl_s=api.access_token_ttl_s,
        refresh_ttl_s=api.refresh_token_ttl_s,
        siwe_domain=api.siwe_domain or f"{settings.host}:{settings.port}",
        siwe_chain_id=api.siwe_chain_id,
        encrypt=encrypt,
        decrypt=decrypt,
    )


def open_auth_service(
    settings: Settings,
    *,
    encrypt: Callable[[str], str] | None = None,
    decrypt: Callable[[str], str] | None = None,
    env: Mapping[str, str] | None = None,
) -> AuthService:
    """An AuthService with its own engine on settings.database_url, migrated on open; close()
    disposes the engine. For commands that need only the users (`grekko user`)."""
    from grekko.adapters.sql.engine import build_engine
    from grekko.adapters.sql.migrate import upgrade_to_head

    load_jwt_secret(settings.data_dir, env)  # a bad key file fails before the database is touched
    engine = build_engine(settings.database_url)
    try:
        upgrade_to_head(engine)
        return auth_service_for(
            settings, engine, encrypt=encrypt, decrypt=decrypt, env=env, owns_engine=True
        )
    except Exception:
        engine.dispose()
        raise
