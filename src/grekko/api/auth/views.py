"""What the auth service hands out: views of users and keys that never carry a hash or secret,
and the few one-time answers (a new API key, an MFA enrolment) whose repr hides the secret."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from grekko.api.auth.store import ApiKeyRecord, UserRecord
from grekko.api.principal import Role

API_KEY_PREFIX = "gk_"
_API_KEY_RE = re.compile(r"gk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    role: Role
    mfa_enabled: bool
    wallet_address: str | None
    disabled: bool
    created_at: int  # UTC ns


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    key_id: str
    user_id: int
    name: str
    role: Role
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    info: ApiKeyInfo
    key: str = field(repr=False)  # shown once; only its hash is stored


@dataclass(frozen=True, slots=True)
class MfaEnrolment:
    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SiweNonce:
    nonce: str
    expires_at: int  # UTC ns
    domain: str
    chain_id: int


def user_info(row: UserRecord) -> UserInfo:
    return UserInfo(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        mfa_enabled=row.totp_enabled,
        wallet_address=row.wallet_address,
        disabled=row.disabled,
        created_at=row.created_at,
    )


def key_info(row: ApiKeyRecord) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row.key_id,
        user_id=row.user_id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def new_api_key_text() -> tuple[str, str, str]:
    """(key_id, secret, full key `gk_<key_id>_<secret>`): 64 bits of id, 256 bits of secret."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{API_KEY_PREFIX}{key_id}_{secret}"


def split_api_key(key: str) -> tuple[str, str] | None:
    match = _API_KEY_RE.fullmatch(key)
    return None if match is None else (match.group(1), match.group(2))


def hash_api_key_secret(secret: str) -> str:
    """SHA-256, not argon2: the secret is 256 random bits, so there is nothing for a slow hash
    to protect against guessing (a leaked table cannot be brute-forced either way), while a
    slow hash on every API request would cost ~50 ms of CPU each and hand out a DoS lever."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_matches(secret: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key_secret(secret), key_hash)
