"""AuthService: password and wallet logins, JWT sessions, and authenticating each request.

Sessions are a short-lived access JWT plus a refresh JWT. Each login starts a refresh *family*;
a refresh spends the presented token and issues the next one in the same family. A spent token
presented again means two parties hold it (one of them stole it), so the whole family is
revoked: the thief's and the user's newer tokens stop working, and so do the family's access
tokens, which carry the family id and are checked against it on every request.

Roles come from the users table on every request, so a demotion or a disable takes effect at
once rather than when the access token expires. An API key acts with the lower of its own role
and its owner's current role.

Wallet users: a SIWE login signs in the user whose wallet_address is the signer. By default an
unknown wallet is refused (401 wallet_not_linked): a self-hosted trading install has no
business letting any Ethereum account read it. With siwe_create_viewers=True the first SIWE
login of an unknown wallet creates a viewer named after the address, with no usable password.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from argon2 import PasswordHasher

from grekko.api.auth import siwe_login
from grekko.api.auth.accounts import NS, Accounts, Cipher
from grekko.api.auth.passwords import UNUSABLE_HASH
from grekko.api.auth.store import AuthStore, UserRecord
from grekko.api.auth.tokens import (
    ACCESS,
    REFRESH,
    TokenCodec,
    TokenPair,
    token_invalid,
    unauthorized,
)
from grekko.api.auth.views import (
    API_KEY_PREFIX,
    SiweNonce,
    api_key_matches,
    split_api_key,
)
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.core.errors import ConfigError

log = logging.getLogger("grekko.api.auth")

TOUCH_EVERY_S = 60  # last_used_at is refreshed at most once a minute per key
PURGE_EVERY = 100


class AuthService(Accounts):
    """Implements grekko.api.principal.Authenticator; every failure is an ApiProblem."""

    def __init__(
        self,
        store: AuthStore,
        *,
        jwt_secret: bytes,
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 30 * 86_400,
        siwe_domain: str = "127.0.0.1:8000",
        siwe_chain_id: int = 31337,
        now_s: Callable[[], float] = time.time,
        password_hasher: PasswordHasher | None = None,
        encrypt: Cipher | None = None,
        decrypt: Cipher | None = None,
        siwe_create_viewers: bool = False,
        totp_issuer: str = "Grekko",
    ) -> None:
        if access_ttl_s <= 0 or refresh_ttl_s <= access_ttl_s:
            raise ConfigError("token lifetimes: 0 < access_ttl_s < refresh_ttl_s")
        super().__init__(
            store,
            now_s=now_s,
            password_hasher=password_hasher,
            encrypt=encrypt,
            decrypt=decrypt,
            totp_issuer=totp_issuer,
        )
        self._tokens = TokenCodec(jwt_secret)
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self.siwe_domain = siwe_domain
        self.siwe_chain_id = siwe_chain_id
        self.siwe_create_viewers = siwe_create_viewers
        self._nonces_made = 0

    # ---- login and sessions --------------------------------------------------------------------
    def login(self, username: str, password: str, otp: str | None = None) -> TokenPair:
        row = self.store.get_user_by_username(username.lower())
        if row is None:
            self._passwords.burn(password)
            raise self._login_failed(username, "unknown user")
        if not self._passwords.verify(row.password_hash, password):
            raise self._login_failed(username, "bad password")
        if row.disabled:
            raise self._login_failed(username, "disabled", "user_disabled")
        mfa = self._check_otp(row, otp)
        if self._passwords.needs_rehash(row.password_hash):
            self.store.update_user(row.id, password_hash=self._passwords.hash(password))
        log.info("login succeeded for %s", row.username)
        return self._issue(row, mfa=mfa)

    def _login_failed(self, username: str, reason: str, code: str = "") -> ApiProblem:
        log.warning("login failed for %r: %s", username[:64], reason)
        if code == "user_disabled":
            return unauthorized(code, "The user is disabled")
        return unauthorized("invalid_credentials", "Wrong username or password")

    def _check_otp(self, row: UserRecord, otp: str | None) -> bool:
        """True when the user has MFA and gave a valid code; the code is required then."""
        if not row.totp_enabled or row.totp_secret is None:
            return False
        if not otp:
            log.warning("login of %s without the TOTP code it needs", row.username)
            raise unauthorized("mfa_required", "A TOTP code is required")
        if not self._totp_ok(row.totp_secret, otp):
            log.warning("login of %s with a wrong TOTP code", row.username)
            raise unauthorized("otp_invalid", "The TOTP code is not valid")
        return True

    def _issue(self, row: UserRecord, *, mfa: bool, family_id: str | None = None) -> TokenPair:
        now = self._now_s()
        family = family_id or secrets.token_hex(16)
        role = Role(row.role)
        access = self._tokens.encode(
            ACCESS,
            user_id=row.id,
            family_id=family,
            mfa=mfa,
            now_s=now,
            ttl_s=self.access_ttl_s,
            role=role,
        )
        refresh = self._tokens.encode(
            REFRESH, user_id=row.id, family_id=family, mfa=mfa, now_s=now, ttl_s=self.refresh_ttl_s
        )
        self.store.insert_refresh(refresh.jti, family, row.id, refresh.iat * NS, refresh.exp * NS)
        return TokenPair(
            access_token=self._tokens.sign(access),
            refresh_token=self._tokens.sign(refresh),
            expires_in=self.access_ttl_s,
        )

    def refresh(self, refresh_token: str) -> TokenPair:
        """Spend a refresh token for a new pair; a spent one revokes its whole family."""
        claims = self._tokens.decode(refresh_token, REFRESH, self._now_s())
        record = self.store.get_refresh(claims.jti)
        if record is None or record.family_id != claims.family_id:
            raise token_invalid("unknown refresh token")
        if record.revoked_at is not None:
            raise unauthorized("refresh_revoked", "The session has ended")
        if not self.store.mark_refresh_used(claims.jti, self._now_ns()):
            self.store.revoke_family(claims.family_id, self._now_ns())
            log.warning("refresh token reused: session family of user %d revoked", claims.user_id)
            raise unauthorized(
                "refresh_reused", "The refresh token was already used; the session is revoked"
            )
        row = self.store.get_user(claims.user_id)
        if row is None or row.disabled:
            self.store.revoke_family(claims.family_id, self._now_ns())
            raise unauthorized("user_disabled", "The user is disabled")
        return self._issue(row, mfa=claims.mfa, family_id=claims.family_id)

    def logout(self, refresh_token: str) -> None:
        """Revoke the session family: its refresh tokens and its access tokens stop working."""
        claims = self._tokens.decode(refresh_token, REFRESH, self._now_s())
        record = self.store.get_refresh(claims.jti)
        if record is None or record.family_id != claims.family_id:
            raise token_invalid("unknown refresh token")
        self.store.revoke_family(claims.family_id, self._now_ns())
        log.info("logout of user %d", claims.user_id)

    def authenticate(self, credential: str) -> Principal:
        """A bearer JWT access token or an API key (`gk_...`) -> the principal."""
        if credential.startswith(API_KEY_PREFIX):
            return self._authenticate_key(credential)
        claims = self._tokens.decode(credential, ACCESS, self._now_s())
        row = self.store.get_user(claims.user_id)
        if row is None:
            raise token_invalid("unknown user")
        if row.disabled:
            raise unauthorized("user_disabled", "The user is disabled")
        if self.store.family_revoked(claims.family_id):
            raise unauthorized("token_revoked", "The session has ended")
        return Principal(row.id, row.username, Role(row.role), "jwt", mfa=claims.mfa)

    def _authenticate_key(self, credential: str) -> Principal:
        parts = split_api_key(credential)
        key = None if parts is None else self.store.get_api_key(parts[0])
        if parts is None or key is None or not api_key_matches(parts[1], key.key_hash):
            raise unauthorized("api_key_invalid", "The API key is not valid")
        if key.revoked_at is not None:
            raise unauthorized("api_key_invalid", "The API key is not valid", "revoked")
        row = self.store.get_user(key.user_id)
        if row is None or row.disabled:
            raise unauthorized("user_disabled", "The user is disabled")
        now = self._now_ns()
        if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY_S * NS:
            self.store.touch_api_key(key.key_id, now)
        role = min(Role(key.role), Role(row.role), key=lambda r: r.rank)
        return Principal(row.id, row.username, role, "api_key")

    # ---- Sign-In with Ethereum -----------------------------------------------------------------
    def new_nonce(self) -> SiweNonce:
        """A stored single-use nonce; every PURGE_EVERY nonces the expired ones are dropped, so
        a flood of nonce requests costs rows for five minutes, not forever."""
        now = self._now_ns()
        nonce = secrets.token_hex(16)
        expires = now + siwe_login.NONCE_TTL_S * NS
        self.store.insert_nonce(nonce, now, expires)
        self._nonces_made += 1
        if self._nonces_made % PURGE_EVERY == 0:
            self.store.purge_nonces(now)
        return SiweNonce(nonce, expires, self.siwe_domain, self.siwe_chain_id)

    def purge_expired(self) -> int:
        """Drop expired refresh tokens and nonces (they can never be presented again); run it
        now and then, e.g. daily. Returns the number of rows removed."""
        now = self._now_ns()
        return self.store.purge_refresh(now) + self.store.purge_nonces(now)

    def siwe_login(self, message: str, signature: str, otp: str | None = None) -> TokenPair:
        verified = siwe_login.verify_siwe(
            message,
            signature,
            domain=self.siwe_domain,
            chain_id=self.siwe_chain_id,
            now_s=self._now_s(),
        )
        if not self.store.consume_nonce(verified.nonce, self._now_ns()):
            log.warning("SIWE login with an unknown, used or expired nonce")
            raise siwe_login.siwe_problem("siwe_nonce_invalid", "unknown, used or expired nonce")
        row = self.store.get_user_by_wallet(verified.address) or self._siwe_user(verified.address)
        if row.disabled:
            raise unauthorized("user_disabled", "The user is disabled")
        mfa = self._check_otp(row, otp)
        log.info("SIWE login succeeded for %s", row.username)
        return self._issue(row, mfa=mfa)

    def _siwe_user(self, address: str) -> UserRecord:
        if not self.siwe_create_viewers:
            log.warning("SIWE login from a wallet linked to no user")
            raise unauthorized("wallet_not_linked", "No user has this wallet")
        row = self.store.insert_user(
            address, UNUSABLE_HASH, Role.VIEWER.value, self._now_ns(), wallet_address=address
        )
        row = row or self.store.get_user_by_wallet(address)  # a concurrent first login
        if row is None:
            raise ApiProblem(409, "username_taken", "A user named after this wallet exists")
        log.info("viewer %s created on first SIWE login", address)
        return row
