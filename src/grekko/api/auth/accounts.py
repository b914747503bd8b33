"""User accounts: creation and roles, passwords, wallet links, TOTP enrolment, API keys.

The session side (logins, tokens, SIWE) is AuthService in service.py, which extends this class;
the split keeps who-exists-and-may-what apart from how-they-prove-it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

import pyotp
from argon2 import PasswordHasher

from grekko.api.auth import siwe_login
from grekko.api.auth.passwords import Passwords, check_password, check_username
from grekko.api.auth.store import AuthStore, UserRecord
from grekko.api.auth.views import (
    ApiKeyInfo,
    MfaEnrolment,
    NewApiKey,
    UserInfo,
    hash_api_key_secret,
    key_info,
    new_api_key_text,
    user_info,
)
from grekko.api.principal import Role
from grekko.api.problems import ApiProblem
from grekko.core.errors import ConfigError

log = logging.getLogger("grekko.api.auth")

NS = 1_000_000_000
TOTP_DIGITS = 6
Cipher = Callable[[str], str]


def _not_found(what: str) -> ApiProblem:
    return ApiProblem(404, f"{what}_not_found", f"No such {what.replace('_', ' ')}")


class Accounts:
    """Users and their credentials. TOTP secrets go through encrypt/decrypt when given (e.g. the
    vault's), so a copy of the database alone does not hold working second factors."""

    def __init__(
        self,
        store: AuthStore,
        *,
        now_s: Callable[[], float] = time.time,
        password_hasher: PasswordHasher | None = None,
        encrypt: Cipher | None = None,
        decrypt: Cipher | None = None,
        totp_issuer: str = "Grekko",
    ) -> None:
        if (encrypt is None) != (decrypt is None):
            raise ConfigError("give both encrypt and decrypt for TOTP secrets, or neither")
        self.store = store
        self._now_s = now_s
        self._passwords = Passwords(password_hasher)
        self._encrypt = encrypt
        self._decrypt = decrypt
        self._totp_issuer = totp_issuer

    def close(self) -> None:
        self.store.close()

    def _now_ns(self) -> int:
        return int(self._now_s() * NS)

    # ---- users ---------------------------------------------------------------------------------
    def create_user(self, username: str, password: str, role: Role | str) -> UserInfo:
        name = check_username(username)
        check_password(password)
        role = _role(role)
        row = self.store.insert_user(
            name, self._passwords.hash(password), role.value, self._now_ns()
        )
        if row is None:
            raise ApiProblem(409, "username_taken", "The username is taken", name)
        log.info("user %s created with role %s", name, role.value)
        return user_info(row)

    def ensure_admin(self) -> str | None:
        """On an empty users table, create "admin" with a random password and return that
        password (for the caller to show once; only its hash is kept). None otherwise."""
        if self.store.count_users() > 0:
            return None
        password = secrets.token_urlsafe(18)
        row = self.store.insert_user(
            "admin", self._passwords.hash(password), Role.ADMIN.value, self._now_ns()
        )
        if row is None:  # another process created it first
            return None
        log.warning("created the first user 'admin' with a generated password")
        return password

    def get_user(self, user_id: int) -> UserInfo:
        return user_info(self._user_row(user_id))

    def user_by_name(self, username: str) -> UserInfo:
        row = self.store.get_user_by_username(username.lower())
        if row is None:
            raise _not_found("user")
        return user_info(row)

    def list_users(self) -> list[UserInfo]:
        return [user_info(row) for row in self.store.list_users()]

    def set_role(self, user_id: int, role: Role | str) -> UserInfo:
        return self.update_user(user_id, role=_role(role))

    def disable(self, user_id: int, disabled: bool = True) -> UserInfo:
        return self.update_user(user_id, disabled=disabled)

    def update_user(
        self, user_id: int, *, role: Role | None = None, disabled: bool | None = None
    ) -> UserInfo:
        """Change role and/or disabled; the last active admin can be neither demoted nor disabled.
        Disabling also revokes every refresh family of the user."""
        row = self._user_row(user_id)
        loses_admin = (
            row.role == Role.ADMIN
            and not row.disabled
            and ((role is not None and role != Role.ADMIN) or disabled is True)
        )
        if loses_admin and self.store.count_active(Role.ADMIN.value) <= 1:
            raise ApiProblem(409, "last_admin", "The last active admin must stay an admin")
        changes: dict[str, object] = {}
        if role is not None:
            changes["role"] = role.value
        if disabled is not None:
            changes["disabled"] = disabled
        self.store.update_user(user_id, **changes)
        if disabled:
            self.store.revoke_user_refresh(user_id, self._now_ns())
        log.info("user %s updated: %s", row.username, sorted(changes))
        return self.get_user(user_id)

    def set_password(self, user_id: int, password: str) -> None:
        """A new password ends every session of the user."""
        self._user_row(user_id)
        check_password(password)
        self.store.update_user(user_id, password_hash=self._passwords.hash(password))
        self.store.revoke_user_refresh(user_id, self._now_ns())

    def link_wallet(self, user_id: int, address: str) -> UserInfo:
        wallet = siwe_login.normalize_address(address)
        self._user_row(user_id)
        if not self.store.update_user(user_id, wallet_address=wallet):
            raise ApiProblem(409, "wallet_taken", "The wallet is linked to another user")
        return self.get_user(user_id)

    def _user_row(self, user_id: int) -> UserRecord:
        row = self.store.get_user(user_id)
        if row is None:
            raise _not_found("user")
        return row

    # ---- TOTP ----------------------------------------------------------------------------------
    def mfa_enrol(self, user_id: int) -> MfaEnrolment:
        """A new TOTP secret, stored but not enabled until mfa_verify proves the app has it."""
        row = self._user_row(user_id)
        if row.totp_enabled:
            raise ApiProblem(409, "mfa_already_enabled", "MFA is already enabled")
        secret = pyotp.random_base32()
        stored = self._encrypt(secret) if self._encrypt else secret
        self.store.update_user(user_id, totp_secret=stored, totp_enabled=False)
        uri = pyotp.TOTP(secret).provisioning_uri(name=row.username, issuer_name=self._totp_issuer)
        return MfaEnrolment(secret=secret, otpauth_uri=uri)

    def mfa_verify(self, user_id: int, code: str) -> UserInfo:
        row = self._user_row(user_id)
        if row.totp_secret is None:
            raise ApiProblem(409, "mfa_not_enrolled", "Enrol in MFA first")
        if row.totp_enabled:
            raise ApiProblem(409, "mfa_already_enabled", "MFA is already enabled")
        if not self._totp_ok(row.totp_secret, code):
            raise ApiProblem(400, "otp_invalid", "The TOTP code is not valid")
        self.store.update_user(user_id, totp_enabled=True)
        log.info("MFA enabled for %s", row.username)
        return self.get_user(user_id)

    def mfa_reset(self, user_id: int) -> UserInfo:
        """Forget the TOTP secret (a lost phone): the next login needs only the password."""
        row = self._user_row(user_id)
        self.store.update_user(user_id, totp_secret=None, totp_enabled=False)
        log.warning("MFA reset for %s", row.username)
        return self.get_user(user_id)

    def _totp_ok(self, stored_secret: str, code: str) -> bool:
        if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
            return False
        secret = self._decrypt(stored_secret) if self._decrypt else stored_secret
        return pyotp.TOTP(secret).verify(code, for_time=int(self._now_s()), valid_window=1)

    # ---- API keys ------------------------------------------------------------------------------
    def create_api_key(self, user_id: int, name: str, role: Role | str) -> NewApiKey:
        """The key text is in the answer only; the store keeps its SHA-256."""
        row = self._user_row(user_id)
        role = _role(role)
        if not Role(row.role).allows(role):
            raise ApiProblem(
                403, "role_too_high", "An API key cannot have more rights than its user"
            )
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise ApiProblem(422, "invalid_name", "A key name has 1 to 100 characters")
        key_id, secret, text = new_api_key_text()
        record = self.store.insert_api_key(
            key_id, user_id, name, hash_api_key_secret(secret), role.value, self._now_ns()
        )
        log.info("API key %s (%s) created for %s", key_id, role.value, row.username)
        return NewApiKey(info=key_info(record), key=text)

    def list_api_keys(self, user_id: int | None = None) -> list[ApiKeyInfo]:
        return [key_info(k) for k in self.store.list_api_keys(user_id)]

    def revoke_api_key(self, key_id: str, *, owner_id: int | None = None) -> ApiKeyInfo:
        """Revoke a key; with owner_id, only a key of that user (others look absent)."""
        key = self.store.get_api_key(key_id)
        if key is None or (owner_id is not None and key.user_id != owner_id):
            raise _not_found("api_key")
        self.store.revoke_api_key(key_id, self._now_ns())
        log.info("API key %s revoked", key_id)
        revoked = self.store.get_api_key(key_id)
        return key_info(revoked if revoked is not None else key)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ApiProblem(
            422, "invalid_role", "The role is not valid", "one of viewer, trader, admin"
        ) from None
