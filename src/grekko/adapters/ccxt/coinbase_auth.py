"""Coinbase Advanced Trade credentials: a CDP API key from the SecretStore, signed requests.

A CDP key is a name (`organizations/{org}/apiKeys/{id}`) and an EC P-256 private key in PEM. Each
private request carries `Authorization: Bearer <JWT>`, an ES256 token made for that one request,
as Coinbase documents it for Advanced Trade: header kid = key name and a random nonce; claims
iss "cdp", sub = key name, nbf = now, exp = now + 120 s, uri = "<METHOD> api.coinbase.com<path>".
ccxt 4.5 still signs EC keys with the older claims (iss "coinbase-cloud", an aud), so
`CdpCoinbase` replaces ccxt's token with the documented one and leaves the rest of ccxt alone.

The uri names api.coinbase.com even when `api_urls` points ccxt elsewhere: a proxy forwards the
request to Coinbase, which checks the uri against itself (and a test server checks it the same
way). The PEM never reaches ccxt: ccxt holds a placeholder that only steers it onto its JWT path,
and the parsed key lives in `CdpCredentials`, whose repr shows nothing. ccxt logs every request's
headers at DEBUG; the exchange's logger blanks the bearer token before a handler sees it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ccxt  # type: ignore[import-untyped]
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from grekko.core.errors import ConfigError
from grekko.ports.secrets import SecretNotFound, SecretStore

__all__ = [
    "JWT_LIFETIME_S",
    "SIGNING_HOST",
    "CdpCoinbase",
    "CdpCredentials",
    "CredentialNames",
    "load_credentials",
]

SIGNING_HOST = "api.coinbase.com"
JWT_LIFETIME_S = 120
HTTP_LOGGER = "grekko.ccxt.coinbase.http"
# Starts like a PEM so ccxt takes its JWT path; ccxt never sees the real key.
_HELD_ELSEWHERE = "-----BEGIN EC PRIVATE KEY----- held by grekko -----END EC PRIVATE KEY-----"
_REDACTED = "<redacted>"


@dataclass(frozen=True)
class CredentialNames:
    """Where in the SecretStore the key name and its private key are kept."""

    api_key: str = "exchange/coinbase/api_key"
    api_secret: str = "exchange/coinbase/api_secret"  # noqa: S105 - a secret's name, not a secret


class CdpCredentials:
    """A CDP key name and its parsed private key; makes request JWTs, shows neither."""

    __slots__ = ("_key_name", "_private_key")

    def __init__(self, key_name: str, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._key_name = key_name
        self._private_key = private_key

    @property
    def key_name(self) -> str:
        return self._key_name

    def __repr__(self) -> str:
        return f"CdpCredentials({_REDACTED})"

    def jwt(self, method: str | None, path: str | None, *, now_s: int, host: str) -> str:
        """The bearer token for one request (method and path None: a WebSocket token)."""
        claims: dict[str, Any] = {
            "iss": "cdp",
            "sub": self._key_name,
            "nbf": now_s,
            "exp": now_s + JWT_LIFETIME_S,
        }
        if method is not None and path is not None:
            claims["uri"] = f"{method.upper()} {host}{path}"
        headers = {"kid": self._key_name, "nonce": secrets.token_hex(16)}
        return jwt.encode(claims, self._private_key, algorithm="ES256", headers=headers)

    def scrub(self, text: str) -> str:
        """Text safe to log or raise: the key name blanked wherever it appears."""
        return text.replace(self._key_name, _REDACTED) if self._key_name else text


def load_credentials(store: SecretStore, names: CredentialNames | None = None) -> CdpCredentials:
    """Read and check the key; errors name the secrets, never their values."""
    names = names or CredentialNames()
    try:
        key_name = store.get(names.api_key).strip()
        pem = store.get(names.api_secret)
    except SecretNotFound as exc:
        raise ConfigError(
            f"no Coinbase API key in the secret store ({exc}): put the CDP key name "
            f"(organizations/.../apiKeys/...) under {names.api_key!r} and its EC private key "
            f"(PEM) under {names.api_secret!r}"
        ) from None
    if not key_name or any(c.isspace() for c in key_name):
        raise ConfigError(f"the secret {names.api_key!r} must hold the CDP key name, one word")
    return CdpCredentials(key_name, _parse_private_key(pem, names.api_secret))


def _parse_private_key(pem: str, secret_name: str) -> ec.EllipticCurvePrivateKey:
    # Keys pasted from the CDP JSON file often keep their newlines escaped.
    text = pem.strip().replace("\\n", "\n")
    problem = (
        f"the secret {secret_name!r} is not an EC P-256 private key in PEM form; Advanced Trade "
        "needs an ECDSA key (CDP portal: signature algorithm ECDSA, not Ed25519)"
    )
    try:
        key = load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(problem) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigError(problem)
    return key


class _BlankBearerTokens(logging.Filter):
    """ccxt logs request headers as a dict argument; the Authorization value goes blank."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, dict) for a in record.args):
            record.args = tuple(_blank_authorization(a) for a in record.args)
        return True


def _blank_authorization(value: object) -> object:
    if isinstance(value, dict) and any(str(k).lower() == "authorization" for k in value):
        return {
            k: (_REDACTED if str(k).lower() == "authorization" else v) for k, v in value.items()
        }
    return value


def http_logger() -> logging.Logger:
    logger = logging.getLogger(HTTP_LOGGER)
    if not any(isinstance(f, _BlankBearerTokens) for f in logger.filters):
        logger.addFilter(_BlankBearerTokens())
    return logger


class CdpCoinbase(ccxt.coinbase):  # type: ignore[misc]
    """ccxt's synchronous coinbase, signing with `CdpCredentials` and numbers kept as strings.

    Numbers as strings (ccxt's `number = str`) let every amount reach Decimal without a float in
    between. An order the exchange refuses comes back as HTTP 200 with `success: false`; ccxt
    would raise a generic error from it, so such answers are handed back as they are and the
    caller reads Coinbase's own reason.
    """

    def __init__(
        self, config: dict[str, Any], credentials: CdpCredentials, signing_host: str
    ) -> None:
        self._cdp = credentials
        self._signing_host = signing_host
        settings = {**config, "apiKey": credentials.key_name, "secret": _HELD_ELSEWHERE}
        settings.update(verbose=False, logger=http_logger())
        super().__init__(settings)
        self.number = str

    def create_auth_token(
        self,
        seconds: int,
        method: str | None = None,
        url: str | None = None,
        useEddsa: Any = False,  # noqa: N803 - ccxt's parameter name
    ) -> str:
        return self._cdp.jwt(
            method, self._coinbase_path(url), now_s=int(seconds), host=self._signing_host
        )

    def _coinbase_path(self, url: str | None) -> str | None:
        """The request's path as Coinbase sees it: without our base url's prefix or the query."""
        if url is None:
            return None
        base = str(self.urls["api"]["rest"]).rstrip("/")
        path = url[len(base) :] if url.startswith(base) else urlsplit(url).path
        return path.split("?", 1)[0]

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> Any:
        refused = isinstance(response, dict) and response.get("success") is False
        if refused and 200 <= int(code) < 300:
            return None
        return super().handle_errors(
            code, reason, url, method, headers, body, response, request_headers, request_body
        )
