"""The audit trail as a hash chain: each entry's hash covers its content and the previous hash.

Editing an entry changes its hash; deleting one leaves a gap in `seq` and breaks the next entry's
link; moving entries around breaks both. So `verify_chain` proves the stored log is the one that
was written, from the genesis entry up to the newest one it is given. What a chain alone cannot
show is a cut of the newest entries: anchor the head (`seq`, `hash`) somewhere else (a backup,
a signed export) to detect that too.

Audit detail is kept forever and cannot be cleaned up later, so it must never hold a secret:
`scrub_detail` replaces the values of secret-named keys and anything shaped like a secret
(JWT, gk_ API key, 0x + 64 hex private key, PEM private key, password=..., Bearer ...) with "[REDACTED]".
A 0x + 64 hex value under a key ending in "hash" (tx_hash, block_hash) is kept: those are public.
The same value shapes are what the log redaction (grekko.api.redaction) masks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64
REDACTED = "[REDACTED]"
MAX_ACTOR = 100
MAX_ACTION = 100
MAX_TARGET = 200
_HASH_FORMAT = re.compile(r"[0-9a-f]{64}")
_CANONICAL_TAG = "grekko.audit.v1"

JWT_PATTERN = re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
API_KEY_PATTERN = re.compile(r"\bgk_[A-Za-z0-9_-]{20,}")
HEX_KEY_PATTERN = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{64}(?![0-9A-Za-z])")
PEM_KEY_PATTERN = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
ASSIGNMENT_PATTERN = re.compile(
    r"(?i)(\b[\w-]*(?:password|passwd|passphrase|secret|api_?key|private_?key|access_?token|"
    r"refresh_?token|auth_?token|mnemonic)[\w-]*[\"']?\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&\"'}\]]+)"
)
BEARER_PATTERN = re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]{8,})")
SECRET_KEY_NAME = re.compile(
    r"(?i)(password|passwd|passphrase|secret|private_?key|priv_?key|api_?key|mnemonic|"
    r"seed_?phrase|totp|otp_?code|access_?token|refresh_?token|auth_?token|session_?token|"
    r"bearer|jwt|credential|authorization|cookie|master_?key)"
)


def redact_text(text: str, *, keep_hex: bool = False) -> str:
    """Mask every secret-shaped part of text; keep_hex leaves 0x + 64 hex values (hashes) alone."""
    text = PEM_KEY_PATTERN.sub(REDACTED, text)
    text = JWT_PATTERN.sub(REDACTED, text)
    text = API_KEY_PATTERN.sub(REDACTED, text)
    text = BEARER_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)
    if not keep_hex:
        text = HEX_KEY_PATTERN.sub(REDACTED, text)
    return ASSIGNMENT_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)


def scrub_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of detail with secret-named keys' values and secret-shaped strings redacted."""
    return {str(key): _scrub(str(key), value) for key, value in detail.items()}


def _scrub(key: str, value: Any) -> Any:
    secret_value = isinstance(value, str | bytes | int) and not isinstance(value, bool)
    if secret_value and SECRET_KEY_NAME.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value, keep_hex=key.lower().endswith("hash"))
    if isinstance(value, Mapping):
        return scrub_detail(value)
    if isinstance(value, list | tuple):
        return [_scrub(key, item) for item in value]
    return value


def canonical_detail(detail: Mapping[str, Any]) -> str:
    """The stored form of detail: JSON with sorted keys, so equal details hash equally."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    ts: int  # UTC ns
    actor: str
    action: str
    target: str
    detail: str  # canonical JSON text, exactly as hashed
    prev_hash: str
    hash: str

    def detail_dict(self) -> dict[str, Any]:
        """The detail decoded; {"raw": text} for an entry whose detail is not a JSON object."""
        try:
            value = json.loads(self.detail)
        except ValueError:
            return {"raw": self.detail}
        return value if isinstance(value, dict) else {"raw": value}


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""
    checked: int = 0  # entries verified before the first bad one (all of them when ok)


def check_fields(actor: str, action: str, target: str) -> None:
    """Who, what and on what are required and fit their columns; raises ValueError otherwise."""
    for label, value, limit in (
        ("actor", actor, MAX_ACTOR),
        ("action", action, MAX_ACTION),
        ("target", target, MAX_TARGET),
    ):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"audit {label} must be a non-empty string")
        if len(value) > limit:
            raise ValueError(f"audit {label} is at most {limit} characters, got {len(value)}")


def entry_hash(
    prev_hash: str, seq: int, ts: int, actor: str, action: str, target: str, detail: str
) -> str:
    """sha256 of a JSON array of the fields: unambiguous, no separator can be forged."""
    canonical = json.dumps(
        [_CANONICAL_TAG, prev_hash, seq, ts, actor, action, target, detail],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def make_entry(
    prev: AuditEntry | None, ts: int, actor: str, action: str, target: str, detail: str
) -> AuditEntry:
    """The entry that follows prev (None: the genesis entry, seq 1)."""
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS_HASH if prev is None else prev.hash
    digest = entry_hash(prev_hash, seq, ts, actor, action, target, detail)
    return AuditEntry(seq, ts, actor, action, target, detail, prev_hash, digest)


class ChainVerifier:
    """Checks entries one at a time in seq order, so a long log is verified in constant memory."""

    def __init__(self) -> None:
        self._expected_seq = 1
        self._prev_hash = GENESIS_HASH
        self._checked = 0
        self._failure: VerifyResult | None = None

    def feed(self, entry: AuditEntry) -> bool:
        """Check the next entry; False once the chain is broken (later entries are ignored)."""
        if self._failure is not None:
            return False
        problem = self._problem(entry)
        if problem is not None:
            self._failure = VerifyResult(False, problem[0], problem[1], self._checked)
            return False
        self._checked += 1
        self._expected_seq = entry.seq + 1
        self._prev_hash = entry.hash
        return True

    def result(self) -> VerifyResult:
        if self._failure is not None:
            return self._failure
        return VerifyResult(True, None, "", self._checked)

    def _problem(self, entry: AuditEntry) -> tuple[int, str] | None:
        seq = entry.seq
        if seq < self._expected_seq:
            return seq, f"entry {seq} is out of order or repeated (expected {self._expected_seq})"
        if seq > self._expected_seq:
            missing = self._expected_seq
            return missing, f"entry {missing} is missing or moved (the next stored is {seq})"
        if entry.prev_hash != self._prev_hash:
            return seq, f"entry {seq}: prev_hash does not match the hash of entry {seq - 1}"
        if not _HASH_FORMAT.fullmatch(entry.hash):
            return seq, f"entry {seq}: the stored hash is not 64 lowercase hex digits"
        digest = entry_hash(
            entry.prev_hash, seq, entry.ts, entry.actor, entry.action, entry.target, entry.detail
        )
        if digest != entry.hash:
            return seq, f"entry {seq}: the content does not match its hash (edited)"
        return None


def verify_chain(entries: Iterable[AuditEntry]) -> VerifyResult:
    """Verify a log from its genesis entry, in seq order; stops at the first broken entry."""
    verifier = ChainVerifier()
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.result()
