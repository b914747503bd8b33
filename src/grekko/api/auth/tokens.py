"""JWTs (HS256) for access and refresh, and the problems every auth failure becomes.

Only HS256 is accepted on decode, so a token re-signed with `alg: none` or another algorithm is
refused before any claim is read. Expiry is checked here against the injected clock, not by
PyJWT against the wall clock, so tests and replays control time; the signature is always checked
first, so an expired token is reported as expired only when it is genuine.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import jwt

from grekko.api.principal import Role
from grekko.api.problems import ApiProblem
from grekko.core.errors import ConfigError

ALGORITHM = "HS256"
ISSUER = "grekko"
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096
ACCESS = "access"
REFRESH = "refresh"
_ROLES = frozenset(r.value for r in Role)
_REQUIRED = ("sub", "jti", "fam", "iat", "exp", "typ", "iss", "mfa")


def unauthorized(code: str, title: str, detail: str = "") -> ApiProblem:
    return ApiProblem(401, code, title, detail)


def token_invalid(detail: str = "") -> ApiProblem:
    return unauthorized("token_invalid", "The token is not valid", detail)


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or refresh answers; repr never shows the tokens (they end up in logs)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = 0


@dataclass(frozen=True, slots=True)
class Claims:
    """A verified token: user, session family, whether the session passed TOTP, lifetime."""

    typ: str
    user_id: int
    jti: str
    family_id: str
    mfa: bool
    iat: int
    exp: int
    role: Role | None = None  # access tokens only; informational, the store's role rules


class TokenCodec:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "TokenCodec(secret=***)"

    def encode(
        self,
        typ: str,
        *,
        user_id: int,
        family_id: str,
        mfa: bool,
        now_s: float,
        ttl_s: int,
        role: Role | None = None,
    ) -> Claims:
        iat = int(now_s)
        return Claims(typ, user_id, secrets.token_hex(16), family_id, mfa, iat, iat + ttl_s, role)

    def sign(self, claims: Claims) -> str:
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "sub": str(claims.user_id),
            "typ": claims.typ,
            "jti": claims.jti,
            "fam": claims.family_id,
            "mfa": claims.mfa,
            "iat": claims.iat,
            "exp": claims.exp,
        }
        if claims.role is not None:
            payload["role"] = claims.role.value
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def decode(self, token: str, typ: str, now_s: float) -> Claims:
        """The verified claims of a token of type `typ`; ApiProblem(401) otherwise."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise token_invalid("malformed token")
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": list(_REQUIRED),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise token_invalid("bad signature or malformed token") from None
        claims = _claims(payload)
        if claims is None or claims.typ != typ:
            raise token_invalid(f"not an {typ} token" if typ == ACCESS else f"not a {typ} token")
        if now_s >= claims.exp:
            raise unauthorized("token_expired", "The token has expired")
        return claims


def _claims(payload: dict[str, Any]) -> Claims | None:
    sub, jti, fam, typ = (payload.get(k) for k in ("sub", "jti", "fam", "typ"))
    iat, exp, mfa = payload.get("iat"), payload.get("exp"), payload.get("mfa")
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) < 19):
        return None
    if not (isinstance(jti, str) and isinstance(fam, str) and isinstance(typ, str)):
        return None
    if not (_is_int(iat) and _is_int(exp) and isinstance(mfa, bool)):
        return None
    role_text = payload.get("role")
    if role_text is not None and role_text not in _ROLES:
        return None
    role = None if role_text is None else Role(role_text)
    return Claims(typ, int(sub), jti, fam, mfa, int(iat), int(exp), role)  # type: ignore[arg-type]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
