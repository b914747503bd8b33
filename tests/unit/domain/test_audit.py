"""The audit hash chain: every edit, deletion or reordering is found; detail never keeps a secret."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.domain.audit import (
    GENESIS_HASH,
    REDACTED,
    AuditEntry,
    canonical_detail,
    check_fields,
    entry_hash,
    make_entry,
    redact_text,
    scrub_detail,
    verify_chain,
)

T0 = 1_717_000_000_000_000_000
TX_HASH = "0x" + "5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
PRIVATE_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwicm9sZSI6ImFkbWluIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def _chain(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        detail = canonical_detail({"order": f"o-{i}", "qty": str(i)})
        prev = entries[-1] if entries else None
        entries.append(
            make_entry(prev, T0 + i, f"user:{i % 3}", "order.submit", "BTC/USDT", detail)
        )
    return entries


def test_an_untouched_chain_verifies() -> None:
    entries = _chain(50)
    assert entries[0].prev_hash == GENESIS_HASH == "0" * 64
    result = verify_chain(entries)
    assert (result.ok, result.first_bad_seq, result.checked) == (True, None, 50)
    assert verify_chain([]).ok


def test_the_hash_is_sha256_of_the_documented_canonical_json() -> None:
    expected = hashlib.sha256(
        json.dumps(
            ["grekko.audit.v1", GENESIS_HASH, 1, T0, "admin", "user.create", "alice", "{}"],
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    assert entry_hash(GENESIS_HASH, 1, T0, "admin", "user.create", "alice", "{}") == expected


def test_field_boundaries_cannot_be_shifted() -> None:
    one = entry_hash(GENESIS_HASH, 1, T0, "ab", "c", "t", "{}")
    other = entry_hash(GENESIS_HASH, 1, T0, "a", "bc", "t", "{}")
    assert one != other


def test_an_edited_entry_is_found_at_its_seq() -> None:
    entries = _chain(10)
    entries[4] = dataclasses.replace(entries[4], detail='{"order":"o-4","qty":"400"}')
    result = verify_chain(entries)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 5, 4)
    assert "edited" in result.reason


def test_an_edited_and_rehashed_entry_breaks_the_next_link() -> None:
    entries = _chain(10)
    e = dataclasses.replace(entries[4], actor="user:evil")
    entries[4] = dataclasses.replace(
        e, hash=entry_hash(e.prev_hash, e.seq, e.ts, e.actor, e.action, e.target, e.detail)
    )
    result = verify_chain(entries)
    assert (result.ok, result.first_bad_seq) == (False, 6)
    assert "prev_hash does not match the hash of entry 5" in result.reason


@pytest.mark.parametrize("index", [0, 3, 8])
def test_a_deleted_entry_is_found(index: int) -> None:
    entries = _chain(10)
    del entries[index]
    result = verify_chain(entries)
    assert (result.ok, result.first_bad_seq) == (False, index + 1)
    assert "missing" in result.reason


def test_deleting_and_renumbering_is_found() -> None:
    entries = _chain(10)
    del entries[3]
    entries = [dataclasses.replace(e, seq=i + 1) for i, e in enumerate(entries)]
    result = verify_chain(entries)
    assert (result.ok, result.first_bad_seq) == (False, 4)


def test_reordered_entries_are_found() -> None:
    entries = _chain(10)
    entries[5], entries[6] = entries[6], entries[5]
    assert verify_chain(entries).first_bad_seq == 6
    swapped_seqs = _chain(10)
    a, b = swapped_seqs[5], swapped_seqs[6]
    swapped_seqs[5], swapped_seqs[6] = (
        dataclasses.replace(b, seq=a.seq),
        dataclasses.replace(a, seq=b.seq),
    )
    result = verify_chain(swapped_seqs)
    assert (result.ok, result.first_bad_seq) == (False, 6)


def test_a_forged_genesis_and_a_malformed_hash_are_found() -> None:
    entries = _chain(3)
    entries[0] = dataclasses.replace(entries[0], prev_hash="f" * 64)
    assert verify_chain(entries).first_bad_seq == 1
    entries = _chain(3)
    entries[1] = dataclasses.replace(entries[1], hash=entries[1].hash.upper())
    assert verify_chain(entries).first_bad_seq == 2


_FIELDS = st.sampled_from(["ts", "actor", "action", "target", "detail", "prev_hash", "hash"])


@given(index=st.integers(0, 19), field=_FIELDS, junk=st.text(min_size=1, max_size=20))
def test_any_single_field_change_is_found_at_or_right_after_it(
    index: int, field: str, junk: str
) -> None:
    entries = _chain(20)
    original = entries[index]
    value: object = original.ts + 1 if field == "ts" else getattr(original, field) + junk
    entries[index] = dataclasses.replace(original, **{field: value})
    result = verify_chain(entries)
    assert not result.ok
    assert result.first_bad_seq == index + 1


def test_detail_is_scrubbed_of_secrets() -> None:
    detail = {
        "password": "hunter2hunter2",
        "totp_secret": "JBSWY3DPEHPK3PXP",
        "totp_enabled": True,
        "api_key": "gk_live_0123456789abcdefghijkl",
        "note": f"logged in with {JWT} then password=letmein99",
        "wallet": {"private_key": PRIVATE_KEY, "address": "0x" + "ab" * 20},
        "leaked": PRIVATE_KEY,
        "tx_hash": TX_HASH,
        "signers": [PRIVATE_KEY],
        "amount": 12,
    }
    scrubbed = scrub_detail(detail)
    text = canonical_detail(scrubbed)
    for secret in ("hunter2hunter2", "JBSWY3DPEHPK3PXP", "gk_live_", JWT, "letmein99", PRIVATE_KEY):
        assert secret not in text
    assert scrubbed["totp_enabled"] is True
    assert scrubbed["wallet"]["address"] == "0x" + "ab" * 20
    assert scrubbed["tx_hash"] == TX_HASH  # public, kept under a *hash key
    assert scrubbed["leaked"] == REDACTED
    assert scrubbed["amount"] == 12


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2 ok", f"password={REDACTED} ok"),
        ('{"db_password": "a b c"}', f'{{"db_password": {REDACTED}}}'),
        ("Authorization: Bearer abcdefgh12345678", f"Authorization: Bearer {REDACTED}"),
        (f"jwt {JWT}!", f"jwt {REDACTED}!"),
        ("key gk_abcdefghijklmnopqrstuvwxyz rest", f"key {REDACTED} rest"),
        (f"pk {PRIVATE_KEY}.", f"pk {REDACTED}."),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----", REDACTED),
        ("token=USDC amount=5 gk_short", "token=USDC amount=5 gk_short"),
        ("0x" + "ab" * 33, "0x" + "ab" * 33),  # 66 hex digits: calldata, not a key
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_fields_are_required_and_bounded() -> None:
    check_fields("admin", "user.create", "alice")
    with pytest.raises(ValueError, match="actor must be a non-empty"):
        check_fields(" ", "user.create", "alice")
    with pytest.raises(ValueError, match="target is at most 200"):
        check_fields("admin", "user.create", "x" * 201)


def test_detail_dict_decodes_the_stored_text() -> None:
    entry = _chain(1)[0]
    assert entry.detail_dict() == {"order": "o-0", "qty": "0"}
    assert dataclasses.replace(entry, detail="not json").detail_dict() == {"raw": "not json"}
