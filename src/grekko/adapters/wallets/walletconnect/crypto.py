"""WalletConnect v2 keys and envelopes, byte for byte as @walletconnect/utils (crypto.ts) makes them.

A type 0 envelope is `type (1 byte) | iv (12) | ChaCha20-Poly1305 sealed box`, base64 encoded,
sealed with a key both peers already hold (a pairing's symKey, or a session key). A type 1
envelope puts the sender's X25519 public key after the type byte, for the one message whose
receiver cannot know the sender yet: the receiver derives the key from it. A session key is
HKDF-SHA256 over the X25519 shared secret with no salt (zeros) and no info, 32 bytes, as the
SDK's deriveSymKey does; a topic is the sha256 of its key, in hex.

Keys travel as lowercase hex strings because that is how the SDK stores and exchanges them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

TYPE_0 = 0
TYPE_1 = 1
KEY_LENGTH = 32
IV_LENGTH = 12
TAG_LENGTH = 16
_HEX32 = re.compile(r"[0-9a-fA-F]{64}")


class EnvelopeError(ValueError):
    """An envelope that cannot be opened: malformed, of an unknown type, or failing its tag."""


class InvalidKey(ValueError):
    """A key that is not 32 bytes of hex, or a public key no shared secret can come from."""


@dataclass(frozen=True)
class KeyPair:
    """An X25519 key pair; repr shows only the public half."""

    public_key: str
    private_key: str = field(repr=False)


@dataclass(frozen=True)
class Envelope:
    """A deserialized envelope; `sender_public_key` is set for type 1 only."""

    type: int
    iv: bytes
    sealed: bytes
    sender_public_key: bytes | None = None


def generate_key_pair() -> KeyPair:
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return KeyPair(public_key=public.hex(), private_key=private.private_bytes_raw().hex())


def public_key_of(private_key: str) -> str:
    private = X25519PrivateKey.from_private_bytes(_key_bytes(private_key, "private key"))
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def generate_random_bytes32() -> str:
    return secrets.token_bytes(KEY_LENGTH).hex()


def derive_sym_key(private_key: str, peer_public_key: str) -> str:
    """The key both peers of a session compute alone: each from its own private key and the
    other's public key."""
    private = X25519PrivateKey.from_private_bytes(_key_bytes(private_key, "private key"))
    peer = X25519PublicKey.from_public_bytes(_key_bytes(peer_public_key, "public key"))
    try:
        shared = private.exchange(peer)
    except ValueError as exc:  # a low-order point gives the all-zero secret
        raise InvalidKey("the peer's public key gives no shared secret") from exc
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=None, info=b"")
    return hkdf.derive(shared).hex()


def hash_key(key: str) -> str:
    """The topic of a key (sha256 of its bytes): what peers subscribe to on the relay."""
    return hashlib.sha256(_key_bytes(key, "key")).hexdigest()


def hash_message(message: str) -> str:
    """The id the relay and the SDK give a published message."""
    return hashlib.sha256(message.encode("utf-8")).hexdigest()


def encrypt(
    message: str,
    sym_key: str,
    *,
    envelope_type: int = TYPE_0,
    sender_public_key: str | None = None,
    iv: bytes | None = None,
    url_safe: bool = False,
) -> str:
    """Seal a message; `iv` is only for reproducing a known envelope, never reuse one."""
    if envelope_type not in (TYPE_0, TYPE_1):
        raise EnvelopeError(f"envelope type {envelope_type} is not 0 or 1")
    if envelope_type == TYPE_1 and sender_public_key is None:
        raise EnvelopeError("a type 1 envelope needs the sender's public key")
    nonce = secrets.token_bytes(IV_LENGTH) if iv is None else iv
    if len(nonce) != IV_LENGTH:
        raise EnvelopeError(f"the iv must be {IV_LENGTH} bytes, not {len(nonce)}")
    sealed = ChaCha20Poly1305(_key_bytes(sym_key, "symKey")).encrypt(
        nonce, message.encode("utf-8"), None
    )
    sender = _key_bytes(sender_public_key, "sender public key") if sender_public_key else None
    return serialize(Envelope(envelope_type, nonce, sealed, sender), url_safe=url_safe)


def decrypt(encoded: str, sym_key: str, *, url_safe: bool = False) -> str:
    """Open an envelope of type 0 or 1 with the key the caller knows to use."""
    envelope = deserialize(encoded, url_safe=url_safe)
    return _open(envelope, sym_key)


def encrypt_type_1(
    message: str, sender: KeyPair, receiver_public_key: str, *, url_safe: bool = False
) -> str:
    """Seal for a receiver who knows only its own key pair: the sender's public key rides along,
    and the key is the one both derive from the pair of key pairs."""
    sym_key = derive_sym_key(sender.private_key, receiver_public_key)
    return encrypt(
        message,
        sym_key,
        envelope_type=TYPE_1,
        sender_public_key=sender.public_key,
        url_safe=url_safe,
    )


def decrypt_type_1(
    encoded: str, receiver_private_key: str, *, url_safe: bool = False
) -> tuple[str, str]:
    """Open a type 1 envelope; returns the message and the sender's public key (hex)."""
    envelope = deserialize(encoded, url_safe=url_safe)
    if envelope.type != TYPE_1 or envelope.sender_public_key is None:
        raise EnvelopeError(f"expected a type 1 envelope, got type {envelope.type}")
    sender = envelope.sender_public_key.hex()
    return _open(envelope, derive_sym_key(receiver_private_key, sender)), sender


def serialize(envelope: Envelope, *, url_safe: bool = False) -> str:
    if envelope.type == TYPE_1:
        if envelope.sender_public_key is None:
            raise EnvelopeError("a type 1 envelope needs the sender's public key")
        parts = [bytes([TYPE_1]), envelope.sender_public_key, envelope.iv, envelope.sealed]
    elif envelope.type == TYPE_0:
        parts = [bytes([TYPE_0]), envelope.iv, envelope.sealed]
    else:
        raise EnvelopeError(f"envelope type {envelope.type} is not 0 or 1")
    raw = b"".join(parts)
    if url_safe:  # the SDK's base64url drops the padding
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    return base64.b64encode(raw).decode("ascii")


def deserialize(encoded: str, *, url_safe: bool = False) -> Envelope:
    raw = _base64_bytes(encoded, url_safe=url_safe)
    if not raw:
        raise EnvelopeError("the envelope is empty")
    envelope_type = raw[0]
    if envelope_type == TYPE_0:
        _check_length(raw, 1 + IV_LENGTH + TAG_LENGTH, "type 0")
        return Envelope(TYPE_0, raw[1 : 1 + IV_LENGTH], raw[1 + IV_LENGTH :])
    if envelope_type == TYPE_1:
        _check_length(raw, 1 + KEY_LENGTH + IV_LENGTH + TAG_LENGTH, "type 1")
        iv_start = 1 + KEY_LENGTH
        return Envelope(
            TYPE_1,
            raw[iv_start : iv_start + IV_LENGTH],
            raw[iv_start + IV_LENGTH :],
            raw[1:iv_start],
        )
    raise EnvelopeError(f"envelope type {envelope_type} is not supported (only 0 and 1)")


def _open(envelope: Envelope, sym_key: str) -> str:
    try:
        plain = ChaCha20Poly1305(_key_bytes(sym_key, "symKey")).decrypt(
            envelope.iv, envelope.sealed, None
        )
    except InvalidTag:
        raise EnvelopeError("the envelope fails authentication: wrong key or tampered") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError("the envelope's message is not UTF-8 text") from exc


def _check_length(raw: bytes, minimum: int, what: str) -> None:
    if len(raw) < minimum:
        raise EnvelopeError(f"a {what} envelope has at least {minimum} bytes, this one {len(raw)}")


def _base64_bytes(encoded: str, *, url_safe: bool) -> bytes:
    if not isinstance(encoded, str) or not encoded.isascii():
        raise EnvelopeError("an envelope is an ASCII base64 string")
    try:
        if url_safe:
            padded = encoded + "=" * (-len(encoded) % 4)
            return base64.b64decode(padded, altchars=b"-_", validate=True)
        return base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise EnvelopeError(f"the envelope is not valid base64: {exc}") from None


def _key_bytes(key: object, what: str) -> bytes:
    """The key's bytes; the error names the key's length, never the key."""
    if not isinstance(key, str):
        raise InvalidKey(f"a {what} is a hex string, not {type(key).__name__}")
    if len(key) != 2 * KEY_LENGTH:
        raise InvalidKey(f"a {what} is {2 * KEY_LENGTH} hex characters, got {len(key)}")
    if not _HEX32.fullmatch(key):
        raise InvalidKey(f"a {what} must be hex")
    return bytes.fromhex(key)
