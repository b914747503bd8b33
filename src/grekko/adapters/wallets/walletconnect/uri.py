"""WalletConnect v2 pairing: a fresh (topic, symKey) and the `wc:` URI a wallet scans.

The URI is written byte for byte as @walletconnect/utils' formatUri writes it (parameters sorted
by name, values form-urlencoded the way the browser's URLSearchParams does), so the QR code Grekko
shows is the one any wallet already reads. Parsing is stricter than the SDK's: a URI with a
missing or malformed key is refused with the reason, not half-read.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus

from grekko.adapters.wallets.walletconnect.crypto import hash_key

SCHEME = "wc"
VERSION = 2
DEFAULT_RELAY_PROTOCOL = "irn"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_METHOD = re.compile(r"[A-Za-z0-9_\-.\[\]]+")


class InvalidPairingUri(ValueError):
    """A `wc:` URI that is not a WalletConnect v2 pairing URI; the message says what is wrong."""


@dataclass(frozen=True)
class PairingUri:
    """One pairing: the topic both peers subscribe to and the key that seals its messages.

    `methods` lists the JSON-RPC methods the pairing may carry (the SDK writes them joined by
    commas); `expiry_timestamp` is in seconds since the epoch.
    """

    topic: str
    sym_key: str
    relay_protocol: str = DEFAULT_RELAY_PROTOCOL
    relay_data: str | None = None
    expiry_timestamp: int | None = None
    methods: tuple[str, ...] | None = None
    version: int = VERSION

    def __post_init__(self) -> None:
        _check_hex32(self.topic, "topic")
        _check_hex32(self.sym_key, "symKey")
        if self.version != VERSION:
            raise InvalidPairingUri(f"version {self.version} is not WalletConnect v2")
        if not self.relay_protocol:
            raise InvalidPairingUri("relay-protocol is empty")
        if self.expiry_timestamp is not None and self.expiry_timestamp <= 0:
            raise InvalidPairingUri(f"expiryTimestamp {self.expiry_timestamp} is not positive")
        for method in self.methods or ():
            if not _METHOD.fullmatch(method):
                raise InvalidPairingUri(f"method {method!r} is not a JSON-RPC method name")

    def __repr__(self) -> str:
        """The symKey decrypts every message of the pairing: it stays out of logs."""
        return f"PairingUri(topic={self.topic!r}, relay_protocol={self.relay_protocol!r})"

    def to_uri(self) -> str:
        params: dict[str, str] = {"relay-protocol": self.relay_protocol, "symKey": self.sym_key}
        if self.relay_data:
            params["relay-data"] = self.relay_data
        if self.expiry_timestamp:
            params["expiryTimestamp"] = str(self.expiry_timestamp)
        if self.methods:
            params["methods"] = ",".join(self.methods)
        query = "&".join(f"{_form_encode(k)}={_form_encode(params[k])}" for k in sorted(params))
        return f"{SCHEME}:{self.topic}@{self.version}?{query}"


def new_pairing(
    *,
    expiry_timestamp: int | None = None,
    methods: tuple[str, ...] | None = None,
    relay_protocol: str = DEFAULT_RELAY_PROTOCOL,
) -> PairingUri:
    """A fresh pairing as the SDK's core.pairing.create makes it: a random symKey, and the topic
    is its sha256, so the topic alone reveals nothing about the key."""
    sym_key = secrets.token_bytes(32).hex()
    return PairingUri(
        topic=hash_key(sym_key),
        sym_key=sym_key,
        relay_protocol=relay_protocol,
        expiry_timestamp=expiry_timestamp,
        methods=methods,
    )


def parse_pairing_uri(uri: str) -> PairingUri:
    """Read a `wc:<topic>@2?relay-protocol=irn&symKey=<hex>[&expiryTimestamp=..][&methods=..]`.

    `wc://` (the Android deep-link form the SDK accepts) is read like `wc:`; parameters the
    protocol may add later are ignored, as the SDK ignores them.
    """
    if not isinstance(uri, str):
        raise InvalidPairingUri(f"a pairing URI is a string, not {type(uri).__name__}")
    text = uri.strip()
    if not text.startswith(f"{SCHEME}:"):
        raise InvalidPairingUri(
            f"not a WalletConnect URI (it must start with 'wc:'): {text[:16]!r}"
        )
    path, sep, query = text[len(SCHEME) + 1 :].partition("?")
    topic, at, version = path.removeprefix("//").partition("@")
    if not at:
        raise InvalidPairingUri("no '@<version>' after the topic")
    if version != str(VERSION):
        raise InvalidPairingUri(
            f"version {version!r} is not WalletConnect v2 (v1 URIs are no longer supported)"
        )
    if not sep or not query:
        raise InvalidPairingUri("no query: relay-protocol and symKey are required")
    params = _query_params(query)
    return PairingUri(
        topic=topic,
        sym_key=_required(params, "symKey"),
        relay_protocol=_required(params, "relay-protocol"),
        relay_data=params.get("relay-data") or None,
        expiry_timestamp=_expiry(params.get("expiryTimestamp")),
        methods=_methods(params.get("methods")),
    )


def _query_params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in params:
            raise InvalidPairingUri(f"parameter {name!r} appears twice")
        params[name] = value
    return params


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidPairingUri(f"required parameter {name!r} is missing or empty")
    return value


def _expiry(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise InvalidPairingUri(f"expiryTimestamp {value!r} is not a whole number of seconds")
    return int(value)


def _methods(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    methods = tuple(value.split(","))
    if not all(methods):
        raise InvalidPairingUri(f"methods {value!r} has an empty entry")
    return methods


def _check_hex32(value: object, name: str) -> None:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        shown = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
        raise InvalidPairingUri(
            f"{name} must be 64 lowercase hex characters (32 bytes), got {shown}"
        )


def _form_encode(value: str) -> str:
    """application/x-www-form-urlencoded as URLSearchParams writes it: it keeps `*` and
    escapes `~`, where Python's quote_plus does the opposite."""
    return quote_plus(value, safe="*").replace("~", "%7E")
