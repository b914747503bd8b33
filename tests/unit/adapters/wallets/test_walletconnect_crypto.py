"""WalletConnect v2 keys, envelopes and pairing URIs in pure Python.

The known answers (session key, topic, envelopes) were produced once by @walletconnect/utils
2.25.0 from RFC 7748's X25519 key pairs and a fixed iv; the interop tests check the same against
the SDK live, with random keys.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.adapters.wallets.walletconnect import (
    TYPE_0,
    TYPE_1,
    EnvelopeError,
    InvalidKey,
    InvalidPairingUri,
    PairingUri,
    decrypt,
    decrypt_type_1,
    derive_sym_key,
    deserialize,
    encrypt,
    encrypt_type_1,
    generate_key_pair,
    hash_key,
    new_pairing,
    parse_pairing_uri,
    public_key_of,
)
from grekko.adapters.wallets.walletconnect.crypto import KeyPair

ALICE = KeyPair(
    public_key="8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    private_key="77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
)
BOB = KeyPair(
    public_key="de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    private_key="5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
)
SDK_SYM_KEY = "ea1d8a20f476d1e1ec952ca42708b8f7161ce7c81eadf97e520e2b40333decd5"
SDK_TOPIC = "1ca1d70db64cab0f93de5934e27f7114e8e9fd7dd3c7145d81ce7f2dd2cd05c8"
FIXED_IV = bytes(range(12))
PING = '{"id":1,"jsonrpc":"2.0","method":"wc_sessionPing","params":{}}'
SDK_TYPE_0 = (
    "AAABAgMEBQYHCAkKC1NpmVwoe1LoBKBdzMFtbY6qYKa2PRkZ4zOs55VRUm6CaXZJLLvgLytXMlKUqgTVeI0u4hTO8kwf"
    "aVwDIERjQorYy/tllqI/rSrjTCb9Cg=="
)
SDK_TYPE_1 = (
    "AYUg8AmJMKdUdIt93LQ+91oNvzoNJjga9OukqY6qm05qAAECAwQFBgcICQoLQC6cVGVGBRKQM8kwpGsiyN1vDsNN"
)
TOPIC = "a" * 64
SYM_KEY = "b" * 64
messages = st.text(max_size=2000)


def test_session_key_and_topic_match_the_sdk() -> None:
    assert derive_sym_key(ALICE.private_key, BOB.public_key) == SDK_SYM_KEY
    assert derive_sym_key(BOB.private_key, ALICE.public_key) == SDK_SYM_KEY
    assert hash_key(SDK_SYM_KEY) == SDK_TOPIC
    assert public_key_of(ALICE.private_key) == ALICE.public_key


def test_envelopes_match_the_sdk_byte_for_byte() -> None:
    assert encrypt(PING, SDK_SYM_KEY, iv=FIXED_IV) == SDK_TYPE_0
    type_1 = encrypt(
        "hello", SDK_SYM_KEY, envelope_type=TYPE_1, sender_public_key=ALICE.public_key, iv=FIXED_IV
    )
    assert type_1 == SDK_TYPE_1
    assert decrypt(SDK_TYPE_0, SDK_SYM_KEY) == PING
    assert decrypt_type_1(SDK_TYPE_1, BOB.private_key) == ("hello", ALICE.public_key)


@settings(max_examples=60, deadline=None)
@given(message=messages)
def test_type_0_round_trip(message: str) -> None:
    sym_key = generate_key_pair().private_key  # any 32 random bytes
    sealed = encrypt(message, sym_key)
    envelope = deserialize(sealed)
    assert envelope.type == TYPE_0
    assert len(envelope.iv) == 12
    assert len(envelope.sealed) == len(message.encode("utf-8")) + 16
    assert decrypt(sealed, sym_key) == message
    assert decrypt(encrypt(message, sym_key, url_safe=True), sym_key, url_safe=True) == message


@settings(max_examples=30, deadline=None)
@given(message=messages)
def test_type_1_round_trip_derives_the_key_from_the_envelope(message: str) -> None:
    sender, receiver = generate_key_pair(), generate_key_pair()
    sealed = encrypt_type_1(message, sender, receiver.public_key)
    envelope = deserialize(sealed)
    assert envelope.type == TYPE_1
    assert envelope.sender_public_key == bytes.fromhex(sender.public_key)
    assert decrypt_type_1(sealed, receiver.private_key) == (message, sender.public_key)
    session_key = derive_sym_key(receiver.private_key, sender.public_key)
    assert decrypt(sealed, session_key) == message


def test_every_flipped_bit_is_detected() -> None:
    raw = bytearray(base64.b64decode(encrypt(PING, SYM_KEY)))
    for index in range(1, len(raw)):  # the type byte aside: iv, ciphertext and tag
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        with pytest.raises(EnvelopeError, match="fails authentication"):
            decrypt(base64.b64encode(bytes(tampered)).decode(), SYM_KEY)


def test_a_wrong_key_or_a_swapped_sender_fails() -> None:
    with pytest.raises(EnvelopeError, match="wrong key or tampered"):
        decrypt(encrypt(PING, SYM_KEY), "c" * 64)
    sender, receiver, stranger = generate_key_pair(), generate_key_pair(), generate_key_pair()
    raw = bytearray(base64.b64decode(encrypt_type_1(PING, sender, receiver.public_key)))
    raw[1:33] = bytes.fromhex(stranger.public_key)
    with pytest.raises(EnvelopeError, match="fails authentication"):
        decrypt_type_1(base64.b64encode(bytes(raw)).decode(), receiver.private_key)


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("", "empty"),
        ("not base64!", "not valid base64"),
        (base64.b64encode(bytes(20)).decode(), "at least 29 bytes"),
        (base64.b64encode(b"\x01" + bytes(50)).decode(), "at least 61 bytes"),
        (base64.b64encode(b"\x02" + bytes(40)).decode(), "type 2 is not supported"),
        ("AAAAé", "ASCII"),
    ],
)
def test_malformed_envelopes_are_refused_with_the_reason(encoded: str, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        decrypt(encoded, SYM_KEY)


def test_type_0_is_not_read_as_type_1() -> None:
    with pytest.raises(EnvelopeError, match="expected a type 1 envelope"):
        decrypt_type_1(encrypt(PING, SYM_KEY), BOB.private_key)


def test_bad_keys_and_options_are_refused_without_echoing_the_key() -> None:
    with pytest.raises(InvalidKey, match="64 hex characters, got 10"):
        encrypt(PING, "0123456789")
    with pytest.raises(InvalidKey, match="must be hex") as caught:
        decrypt(encrypt(PING, SYM_KEY), "z" * 64)
    assert "zzzz" not in str(caught.value)
    with pytest.raises(InvalidKey, match="no shared secret"):
        derive_sym_key(ALICE.private_key, "00" * 32)  # a low-order point
    with pytest.raises(EnvelopeError, match="sender's public key"):
        encrypt(PING, SYM_KEY, envelope_type=TYPE_1)
    with pytest.raises(EnvelopeError, match="iv must be 12 bytes"):
        encrypt(PING, SYM_KEY, iv=bytes(8))


def test_new_pairing_topic_is_the_hash_of_its_key() -> None:
    first, second = new_pairing(), new_pairing()
    assert first.topic == hash_key(first.sym_key)
    assert first.sym_key != second.sym_key
    assert first.sym_key not in repr(first)
    assert first.to_uri() == f"wc:{first.topic}@2?relay-protocol=irn&symKey={first.sym_key}"


def test_uri_writes_parameters_sorted_and_encoded_like_url_search_params() -> None:
    pairing = PairingUri(
        TOPIC,
        SYM_KEY,
        relay_data="a~b* c/d",
        expiry_timestamp=1_700_000_300,
        methods=("wc_sessionPropose", "wc_sessionAuthenticate"),
    )
    assert pairing.to_uri() == (
        f"wc:{TOPIC}@2?expiryTimestamp=1700000300"
        "&methods=wc_sessionPropose%2Cwc_sessionAuthenticate"
        f"&relay-data=a%7Eb*+c%2Fd&relay-protocol=irn&symKey={SYM_KEY}"
    )


@settings(max_examples=60, deadline=None)
@given(
    expiry=st.none() | st.integers(min_value=1, max_value=2**40),
    methods=st.none()
    | st.lists(st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True), min_size=1, max_size=4),
    relay_data=st.none() | st.from_regex(r"[A-Za-z0-9+/= ~*]{1,20}", fullmatch=True),
)
def test_uri_round_trip(
    expiry: int | None, methods: list[str] | None, relay_data: str | None
) -> None:
    pairing = PairingUri(
        hash_key(SYM_KEY),
        SYM_KEY,
        relay_data=relay_data,
        expiry_timestamp=expiry,
        methods=tuple(methods) if methods else None,
    )
    assert parse_pairing_uri(pairing.to_uri()) == pairing


def test_uri_parser_reads_the_android_form_and_ignores_unknown_parameters() -> None:
    uri = f"wc://{TOPIC}@2?symKey={SYM_KEY}&relay-protocol=irn&future=1"
    assert parse_pairing_uri(uri) == PairingUri(TOPIC, SYM_KEY)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        (f"https://{TOPIC}@2?relay-protocol=irn&symKey={SYM_KEY}", "must start with 'wc:'"),
        (f"wc:{TOPIC}?relay-protocol=irn&symKey={SYM_KEY}", "no '@<version>'"),
        (f"wc:{TOPIC}@1?bridge=https%3A%2F%2Fb&key={SYM_KEY}", "v1 URIs are no longer supported"),
        (f"wc:{TOPIC}@2", "no query"),
        (f"wc:{TOPIC}@2?relay-protocol=irn", "'symKey' is missing"),
        (f"wc:{TOPIC}@2?relay-protocol=irn&symKey=", "'symKey' is missing or empty"),
        (f"wc:{TOPIC}@2?symKey={SYM_KEY}", "'relay-protocol' is missing"),
        (f"wc:{TOPIC[:-2]}@2?relay-protocol=irn&symKey={SYM_KEY}", "topic must be 64"),
        (f"wc:{TOPIC.upper()}@2?relay-protocol=irn&symKey={SYM_KEY}", "topic must be 64"),
        (f"wc:{TOPIC}@2?relay-protocol=irn&symKey={SYM_KEY}00", "symKey must be 64"),
        (
            f"wc:{TOPIC}@2?relay-protocol=irn&symKey={SYM_KEY}&symKey={SYM_KEY}",
            "'symKey' appears twice",
        ),
        (
            f"wc:{TOPIC}@2?relay-protocol=irn&symKey={SYM_KEY}&expiryTimestamp=soon",
            "not a whole number",
        ),
        (f"wc:{TOPIC}@2?relay-protocol=irn&symKey={SYM_KEY}&expiryTimestamp=0", "not positive"),
        (f"wc:{TOPIC}@2?relay-protocol=irn&symKey={SYM_KEY}&methods=a,,b", "empty entry"),
        (f"wc:{TOPIC}@2?relay-protocol=irn&symKey={SYM_KEY}&methods=a%20b", "not a JSON-RPC"),
    ],
)
def test_malformed_uris_are_refused_with_the_reason(uri: str, reason: str) -> None:
    with pytest.raises(InvalidPairingUri, match=reason) as caught:
        parse_pairing_uri(uri)
    assert SYM_KEY not in str(caught.value)
