"""Grekko's WalletConnect v2 pairing URIs, keys and envelopes against the official JavaScript SDK.

interop/wc_encode.mjs and interop/wc_decode.mjs run @walletconnect/utils (pinned in
interop/package-lock.json, installed by `make interop`, which `make test` runs) on batches of operations: what Grekko
writes, the SDK reads, and the reverse; where both sides are deterministic (URIs, keys, topics,
envelopes with a given iv) the bytes are compared too.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grekko.adapters.wallets.walletconnect import (
    PairingUri,
    decrypt,
    decrypt_type_1,
    derive_sym_key,
    encode,
    encrypt,
    encrypt_type_1,
    generate_key_pair,
    generate_random_bytes32,
    hash_key,
    hash_message,
    new_pairing,
    parse_pairing_uri,
    personal_sign,
    session_delete,
)

pytestmark = pytest.mark.slow

INTEROP = Path(__file__).resolve().parents[3] / "interop"
SDK_PACKAGE = INTEROP / "node_modules" / "@walletconnect" / "utils" / "package.json"
MESSAGES = [
    "",
    "a",
    "héllo wörld, 你好, 🦎",
    "\x00 control \n\t chars",
    encode(session_delete()),
    encode(personal_sign("eip155:1", "Sign in to Grekko", "0x" + "ab" * 20)),
    "x" * 65_536,
]


@functools.cache
def _node() -> str:
    """Checked inside each test, so a missing SDK fails every test (never skips, never errors)."""
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not on PATH: the WalletConnect interop tests run the SDK with it")
    if not SDK_PACKAGE.is_file():
        pytest.fail(f"{SDK_PACKAGE.parent} is missing: run `make interop` (`make test` does it)")
    return path


def _sdk(node: str, script: str, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [node, str(INTEROP / script)],
        input=json.dumps(operations),
        capture_output=True,
        text=True,
        cwd=INTEROP,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(results) == len(operations)
    return results


def _ok(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    errors = [r["error"] for r in results if "error" in r]
    assert not errors, errors
    return results


def _pairings() -> list[PairingUri]:
    plain = new_pairing()
    full = new_pairing(
        expiry_timestamp=1_900_000_000, methods=("wc_sessionPropose", "wc_sessionAuthenticate")
    )
    with_data = PairingUri(
        plain.topic, plain.sym_key, relay_data="some relay data ~*/+", expiry_timestamp=300
    )
    return [plain, full, with_data]


def test_grekko_uris_parse_with_the_sdk() -> None:
    node = _node()
    pairings = _pairings()
    parsed = _ok(
        _sdk(node, "wc_decode.mjs", [{"op": "parseUri", "uri": p.to_uri()} for p in pairings])
    )
    for pairing, sdk in zip(pairings, parsed, strict=True):
        assert sdk["topic"] == pairing.topic
        assert sdk["version"] == 2
        assert sdk["symKey"] == pairing.sym_key
        expected_relay = {"protocol": "irn"} | (
            {"data": pairing.relay_data} if pairing.relay_data else {}
        )
        assert sdk["relay"] == expected_relay
        assert sdk.get("expiryTimestamp") == pairing.expiry_timestamp
        assert sdk.get("methods") == (list(pairing.methods) if pairing.methods else None)


def test_sdk_uris_are_the_same_string_and_parse_with_grekko() -> None:
    node = _node()
    pairings = _pairings()
    operations = [
        {
            "op": "formatUri",
            "topic": p.topic,
            "symKey": p.sym_key,
            "relayData": p.relay_data,
            "expiryTimestamp": p.expiry_timestamp,
            "methods": list(p.methods) if p.methods else None,
        }
        for p in pairings
    ]
    for pairing, sdk in zip(pairings, _ok(_sdk(node, "wc_encode.mjs", operations)), strict=True):
        assert sdk["uri"] == pairing.to_uri()
        assert parse_pairing_uri(sdk["uri"]) == pairing


def test_x25519_shared_keys_agree() -> None:
    node = _node()
    sdk_pairs = _ok(_sdk(node, "wc_encode.mjs", [{"op": "generateKeyPair"}] * 5))
    grekko_pairs = [generate_key_pair() for _ in sdk_pairs]
    operations = [
        {"op": "deriveSymKey", "privateKey": s["privateKey"], "publicKey": g.public_key}
        for s, g in zip(sdk_pairs, grekko_pairs, strict=True)
    ] + [  # the SDK deriving from Grekko's private key, as the other peer would
        {"op": "deriveSymKey", "privateKey": g.private_key, "publicKey": s["publicKey"]}
        for s, g in zip(sdk_pairs, grekko_pairs, strict=True)
    ]
    derived = [r["symKey"] for r in _ok(_sdk(node, "wc_encode.mjs", operations))]
    ours = [
        derive_sym_key(g.private_key, s["publicKey"])
        for s, g in zip(sdk_pairs, grekko_pairs, strict=True)
    ]
    assert derived == ours + ours
    assert len(set(ours)) == len(ours)


def test_topics_and_message_hashes_agree() -> None:
    node = _node()
    keys = [generate_random_bytes32() for _ in range(5)] + ["00" * 32, "ff" * 32]
    operations = [{"op": "hashKey", "key": k} for k in keys]
    operations += [{"op": "hashMessage", "message": m} for m in MESSAGES]
    results = _ok(_sdk(node, "wc_encode.mjs", operations))
    assert [r["topic"] for r in results[: len(keys)]] == [hash_key(k) for k in keys]
    assert [r["hash"] for r in results[len(keys) :]] == [hash_message(m) for m in MESSAGES]


def test_grekko_type_0_envelopes_open_with_the_sdk() -> None:
    node = _node()
    sym_key = generate_random_bytes32()
    sealed = [encrypt(m, sym_key) for m in MESSAGES]
    url_safe = [encrypt(m, sym_key, url_safe=True) for m in MESSAGES]
    operations = [{"op": "decrypt", "encoded": e, "symKey": sym_key} for e in sealed]
    operations += [
        {"op": "decrypt", "encoded": e, "symKey": sym_key, "encoding": "base64url"}
        for e in url_safe
    ]
    operations += [{"op": "deserialize", "encoded": sealed[1]}]
    results = _ok(_sdk(node, "wc_decode.mjs", operations))
    assert [r["message"] for r in results[:-1]] == MESSAGES + MESSAGES
    raw = base64.b64decode(sealed[1])
    assert results[-1] == {
        "type": 0,
        "iv": raw[1:13].hex(),
        "sealed": raw[13:].hex(),
        "senderPublicKey": None,
    }


def test_grekko_type_1_envelopes_open_with_the_sdk() -> None:
    node = _node()
    receiver = _ok(_sdk(node, "wc_encode.mjs", [{"op": "generateKeyPair"}]))[0]
    sender = generate_key_pair()
    operations = [
        {
            "op": "openTypeOne",
            "encoded": encrypt_type_1(m, sender, receiver["publicKey"]),
            "receiverPrivateKey": receiver["privateKey"],
            "receiverPublicKey": receiver["publicKey"],
        }
        for m in MESSAGES
    ]
    results = _ok(_sdk(node, "wc_decode.mjs", operations))
    assert [r["message"] for r in results] == MESSAGES
    assert {r["senderPublicKey"] for r in results} == {sender.public_key}


def test_sdk_envelopes_open_with_grekko() -> None:
    node = _node()
    sym_key = generate_random_bytes32()
    operations = [{"op": "encrypt", "message": m, "symKey": sym_key} for m in MESSAGES]
    operations += [
        {"op": "encrypt", "message": m, "symKey": sym_key, "encoding": "base64url"}
        for m in MESSAGES
    ]
    results = [r["encoded"] for r in _ok(_sdk(node, "wc_encode.mjs", operations))]
    assert [decrypt(e, sym_key) for e in results[: len(MESSAGES)]] == MESSAGES
    assert [decrypt(e, sym_key, url_safe=True) for e in results[len(MESSAGES) :]] == MESSAGES

    sdk_sender = _ok(_sdk(node, "wc_encode.mjs", [{"op": "generateKeyPair"}]))[0]
    receiver = generate_key_pair()
    session_key = derive_sym_key(receiver.private_key, sdk_sender["publicKey"])
    type_1 = [
        {
            "op": "encrypt",
            "message": m,
            "symKey": session_key,
            "type": 1,
            "senderPublicKey": sdk_sender["publicKey"],
        }
        for m in MESSAGES
    ]
    for message, sdk in zip(MESSAGES, _ok(_sdk(node, "wc_encode.mjs", type_1)), strict=True):
        assert decrypt_type_1(sdk["encoded"], receiver.private_key) == (
            message,
            sdk_sender["publicKey"],
        )


def test_same_key_and_iv_give_the_same_envelope() -> None:
    node = _node()
    sym_key, sender = generate_random_bytes32(), generate_key_pair()
    ivs = [secrets.token_bytes(12) for _ in MESSAGES]
    operations = [
        {"op": "encrypt", "message": m, "symKey": sym_key, "iv": iv.hex()}
        for m, iv in zip(MESSAGES, ivs, strict=True)
    ]
    operations += [
        {
            "op": "encrypt",
            "message": m,
            "symKey": sym_key,
            "iv": iv.hex(),
            "type": 1,
            "senderPublicKey": sender.public_key,
        }
        for m, iv in zip(MESSAGES, ivs, strict=True)
    ]
    sdk = [r["encoded"] for r in _ok(_sdk(node, "wc_encode.mjs", operations))]
    ours = [encrypt(m, sym_key, iv=iv) for m, iv in zip(MESSAGES, ivs, strict=True)]
    ours += [
        encrypt(m, sym_key, iv=iv, envelope_type=1, sender_public_key=sender.public_key)
        for m, iv in zip(MESSAGES, ivs, strict=True)
    ]
    assert sdk == ours


def test_the_sdk_refuses_what_grekko_refuses() -> None:
    node = _node()
    sym_key = generate_random_bytes32()
    raw = bytearray(base64.b64decode(encrypt("a payment", sym_key)))
    raw[-1] ^= 0x01
    tampered = base64.b64encode(bytes(raw)).decode()
    wrong_key = encrypt("a payment", generate_random_bytes32())
    operations = [
        {"op": "decrypt", "encoded": tampered, "symKey": sym_key},
        {"op": "decrypt", "encoded": wrong_key, "symKey": sym_key},
    ]
    results = _sdk(node, "wc_decode.mjs", operations)
    assert all("error" in r for r in results), results
