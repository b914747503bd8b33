"""LocalVault: secrets encrypted with AES-256-GCM in the `secrets` table of Grekko's own database.

Each write draws a fresh random 96-bit nonce, and the secret's name is the associated data, so a
ciphertext copied under another name (or edited in any byte) fails authentication instead of
decrypting to something else. With random nonces one key is good for about 2**32 writes, far
more than a vault of API keys sees.

The 32-byte key comes either from GREKKO_MASTER_KEY (`key_from_env`) or from a passphrase through
scrypt (n=2**15, r=8, p=1; `LocalVault.open_with_passphrase`). The scrypt salt is not secret and
lives in the same table as the row "__salt__" (nonce empty, ciphertext = the 16 salt bytes), so
the database alone, with the passphrase, is enough to reopen the vault. The row "__check__" holds
a known plaintext encrypted under the key: opening the vault decrypts it first, so a wrong key
or passphrase is a WrongVaultKey at once, never garbage later. Names starting with "__" cannot
be created through the port and are never listed.

The table is declared here as a lightweight clause (adapters never import each other); its schema
belongs to the SQL adapter's migration 0003.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.dialects import postgresql, sqlite

from grekko.core.errors import ConfigError
from grekko.core.time import Clock, LiveClock
from grekko.ports.secrets import (
    SecretNotFound,
    SecretStoreError,
    SecretTampered,
    WrongVaultKey,
    check_name,
    check_value,
)

MASTER_KEY_ENV = "GREKKO_MASTER_KEY"
PASSPHRASE_ENV = "GREKKO_VAULT_PASSPHRASE"  # noqa: S105 - a variable name
KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_NAME = "__salt__"
CHECK_NAME = "__check__"
_CHECK_PLAINTEXT = b"grekko vault key check v1"
_AAD_PREFIX = b"grekko.secret.v1:"
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")

_secrets = sa.table(
    "secrets",
    sa.column("name", sa.String()),
    sa.column("nonce", sa.LargeBinary()),
    sa.column("ciphertext", sa.LargeBinary()),
    sa.column("created_at", sa.BigInteger()),
    sa.column("updated_at", sa.BigInteger()),
)

Reveal = Callable[[str], None]
"""Told every value the vault handles, e.g. grekko.api.redaction.register, so logs mask it."""


def new_master_key() -> str:
    """A fresh random key in the base64 form GREKKO_MASTER_KEY takes."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_from_env(value: str) -> bytes:
    """GREKKO_MASTER_KEY (32 bytes as 64 hex digits or base64) -> the key; the value is never echoed."""
    text = (value or "").strip()
    if _HEX_KEY.fullmatch(text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            "GREKKO_MASTER_KEY must be 32 random bytes written as base64 (44 characters) or hex "
            '(64 digits); make one with `python -c "import base64, os; '
            'print(base64.b64encode(os.urandom(32)).decode())"`'
        )
    return raw


def key_from_passphrase(passphrase: str, salt: bytes) -> bytes:
    """scrypt(passphrase, salt) with n=2**15, r=8, p=1: about 32 MiB and a tenth of a second."""
    if not passphrase:
        raise ConfigError("the vault passphrase must not be empty")
    if len(salt) < SALT_BYTES:
        raise ConfigError(f"the scrypt salt must be at least {SALT_BYTES} bytes")
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(passphrase.encode("utf-8"))


class LocalVault:
    """The SecretStore port on the `secrets` table; the engine's schema must be migrated."""

    def __init__(
        self,
        engine: sa.Engine,
        key: bytes,
        *,
        clock: Clock | None = None,
        on_reveal: Reveal | None = None,
    ) -> None:
        self._engine = engine
        self._insert = _insert_for(engine)
        self._aead = _cipher(key)
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._on_reveal = on_reveal
        self._check_key()

    @classmethod
    def open_with_passphrase(
        cls,
        engine: sa.Engine,
        passphrase: str,
        *,
        clock: Clock | None = None,
        on_reveal: Reveal | None = None,
    ) -> LocalVault:
        """Derive the key from the passphrase and the salt stored in the vault (made on first use)."""
        salt = load_or_create_salt(engine)
        return cls(engine, key_from_passphrase(passphrase, salt), clock=clock, on_reveal=on_reveal)

    def __repr__(self) -> str:
        return f"LocalVault({self._engine.url.render_as_string(hide_password=True)!r})"

    def put(self, name: str, value: str) -> None:
        check_name(name)
        check_value(value)
        self._reveal(value)
        self._write(name, value.encode("utf-8"))

    def get(self, name: str) -> str:
        check_name(name)
        row = self._read(name)
        if row is None:
            raise SecretNotFound(name)
        value = self._decrypt(name, row[0], row[1]).decode("utf-8")
        self._reveal(value)
        return value

    def delete(self, name: str) -> None:
        check_name(name)
        with _begin_write(self._engine) as connection:
            deleted = connection.execute(sa.delete(_secrets).where(_secrets.c.name == name))
        if deleted.rowcount == 0:
            raise SecretNotFound(name)

    def names(self) -> list[str]:
        query = sa.select(_secrets.c.name).order_by(_secrets.c.name)
        with self._engine.connect() as connection:
            rows = connection.execute(query).scalars().all()
        return [str(name) for name in rows if not str(name).startswith("__")]

    def rotate_key(self, new_key: bytes, *, new_salt: bytes | None = None) -> None:
        """Re-encrypt every secret and the key check under new_key in one transaction.

        For a passphrase change pass the salt the new key was derived with; it replaces the stored
        one in the same transaction. Other processes holding the old key must reopen the vault.
        """
        new_cipher = _cipher(new_key)
        with _begin_write(self._engine) as connection:
            rows = connection.execute(
                sa.select(_secrets.c.name, _secrets.c.nonce, _secrets.c.ciphertext).where(
                    _secrets.c.name != SALT_NAME
                )
            ).all()
            for name, nonce, ciphertext in rows:
                plaintext = self._decrypt(str(name), bytes(nonce), bytes(ciphertext))
                self._upsert(connection, str(name), plaintext, cipher=new_cipher)
            if new_salt is not None:
                _replace_salt(connection, new_salt, self._clock.timestamp_ns())
        self._aead = new_cipher

    def _reveal(self, value: str) -> None:
        if self._on_reveal is not None:
            self._on_reveal(value)

    def _check_key(self) -> None:
        try:
            row = self._read(CHECK_NAME)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
            raise SecretStoreError(
                f"the secrets table cannot be read ({type(exc.orig).__name__}): "
                "is the database reachable and migrated?"
            ) from exc
        if row is None:
            self._create_check()
            row = self._read(CHECK_NAME)
            if row is None:  # pragma: no cover - deleted between the two statements
                raise SecretStoreError("the vault key check value vanished while opening")
        try:
            plaintext = self._aead.decrypt(bytes(row[0]), bytes(row[1]), _aad(CHECK_NAME))
        except InvalidTag:
            plaintext = b""
        if plaintext != _CHECK_PLAINTEXT:
            raise WrongVaultKey(
                "the vault key does not open this vault: wrong passphrase or GREKKO_MASTER_KEY"
            )

    def _create_check(self) -> None:
        """First open: prove the key against an existing secret, if any, then store the check."""
        with _begin_write(self._engine) as connection:
            sample = connection.execute(
                sa.select(_secrets.c.name, _secrets.c.nonce, _secrets.c.ciphertext)
                .where(~_secrets.c.name.startswith("__", autoescape=True))
                .limit(1)
            ).first()
            if sample is not None:
                try:
                    self._aead.decrypt(bytes(sample[1]), bytes(sample[2]), _aad(str(sample[0])))
                except InvalidTag as exc:
                    raise WrongVaultKey(
                        "the vault key does not open this vault's secrets (and its key check "
                        "value is missing): wrong passphrase or GREKKO_MASTER_KEY"
                    ) from exc
            self._upsert(connection, CHECK_NAME, _CHECK_PLAINTEXT, replace=False)

    def _read(self, name: str) -> tuple[bytes, bytes] | None:
        query = sa.select(_secrets.c.nonce, _secrets.c.ciphertext).where(_secrets.c.name == name)
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else (bytes(row[0]), bytes(row[1]))

    def _decrypt(self, name: str, nonce: bytes, ciphertext: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, _aad(name))
        except InvalidTag as exc:
            raise SecretTampered(
                f"secret {name!r} failed authentication: its ciphertext was altered or copied "
                "from another name"
            ) from exc

    def _write(self, name: str, plaintext: bytes) -> None:
        with _begin_write(self._engine) as connection:
            self._upsert(connection, name, plaintext)

    def _upsert(
        self,
        connection: sa.Connection,
        name: str,
        plaintext: bytes,
        *,
        replace: bool = True,
        cipher: AESGCM | None = None,
    ) -> None:
        nonce = os.urandom(NONCE_BYTES)
        aead = cipher if cipher is not None else self._aead
        now = self._clock.timestamp_ns()
        insert = self._insert(_secrets).values(
            name=name,
            nonce=nonce,
            ciphertext=aead.encrypt(nonce, plaintext, _aad(name)),
            created_at=now,
            updated_at=now,
        )
        if replace:
            statement = insert.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "nonce": insert.excluded.nonce,
                    "ciphertext": insert.excluded.ciphertext,
                    "updated_at": insert.excluded.updated_at,
                },
            )
        else:
            statement = insert.on_conflict_do_nothing(index_elements=["name"])
        connection.execute(statement)


def open_local_vault(
    engine: sa.Engine,
    environ: Mapping[str, str],
    *,
    clock: Clock | None = None,
    on_reveal: Reveal | None = None,
) -> LocalVault:
    """The vault with the key from GREKKO_MASTER_KEY, else from GREKKO_VAULT_PASSPHRASE."""
    if environ.get(MASTER_KEY_ENV):
        key = key_from_env(environ[MASTER_KEY_ENV])
        return LocalVault(engine, key, clock=clock, on_reveal=on_reveal)
    if environ.get(PASSPHRASE_ENV):
        return LocalVault.open_with_passphrase(
            engine, environ[PASSPHRASE_ENV], clock=clock, on_reveal=on_reveal
        )
    raise ConfigError(
        f"the local vault needs {MASTER_KEY_ENV} (32 random bytes, base64 or hex) or "
        f"{PASSPHRASE_ENV} in the environment"
    )


def load_or_create_salt(engine: sa.Engine) -> bytes:
    """The vault's scrypt salt, drawn at random and stored on first use (first writer wins)."""
    insert = _insert_for(engine)(_secrets).values(
        name=SALT_NAME,
        nonce=b"",
        ciphertext=os.urandom(SALT_BYTES),
        created_at=LiveClock().timestamp_ns(),
        updated_at=LiveClock().timestamp_ns(),
    )
    query = sa.select(_secrets.c.ciphertext).where(_secrets.c.name == SALT_NAME)
    with _begin_write(engine) as connection:
        connection.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
        salt = bytes(connection.execute(query).scalar_one())
    if len(salt) < SALT_BYTES:
        raise SecretStoreError(f"the stored vault salt is {len(salt)} bytes, expected {SALT_BYTES}")
    return salt


def _replace_salt(connection: sa.Connection, salt: bytes, now: int) -> None:
    if len(salt) < SALT_BYTES:
        raise ConfigError(f"the scrypt salt must be at least {SALT_BYTES} bytes")
    connection.execute(
        sa.update(_secrets)
        .where(_secrets.c.name == SALT_NAME)
        .values(ciphertext=bytes(salt), updated_at=now)
    )


def _aad(name: str) -> bytes:
    return _AAD_PREFIX + name.encode("utf-8")


def _insert_for(engine: sa.Engine) -> Any:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise ConfigError(f"LocalVault needs SQLite or PostgreSQL, not {dialect!r}")


def _cipher(key: bytes) -> AESGCM:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ConfigError(f"the vault key must be {KEY_BYTES} bytes")
    return AESGCM(bytes(key))


@contextmanager
def _begin_write(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction; on Grekko's SQLite engines BEGIN IMMEDIATE (see adapters.sql.engine)."""
    with engine.connect() as connection:
        connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            yield connection
