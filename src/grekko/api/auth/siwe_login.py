"""Sign-In with Ethereum (EIP-4361): parse and verify a signed message against our expectations.

The message must be the canonical text the `siwe` package would produce for its own fields, so
what the wallet showed the user is exactly what was checked. It is parsed with the package's
regular-expression parser, not its ABNF one: the ABNF parser backtracks for seconds on a few KB
of crafted text (a CPU lever for anyone who can reach the login), while the regex parser plus
the field validators plus the canonical round trip accept exactly the well-formed messages.
The first line is checked for our domain before any parsing. Checks, in order: the format, the
domain and the URI host (the site that asked for the signature is this one), the chain id, the
validity window (expiration time / not before against the injected clock) and the EIP-191
signature (the recovered signer is the message's address). The nonce is the caller's to
consume, after all of these pass, so a forged message cannot burn someone else's nonce.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from grekko.api.problems import ApiProblem

NONCE_TTL_S = 300
MAX_MESSAGE_CHARS = 4096
SIGNATURE_RE = re.compile(r"0x[0-9a-fA-F]{130}")
# v as wallets write it (27/28, or 0/1); eth_account would also take EIP-155 forms (35+), so
# one signature would have many spellings: harmless with single-use nonces, but refused.
CANONICAL_V = frozenset({"1b", "1c", "00", "01"})
ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
HEADER_RE = re.compile(
    r"(?:[a-zA-Z][a-zA-Z0-9+.-]{0,30}://)?([^\n]{1,255}) wants you to sign in with your Ethereum account:\n"
)


@dataclass(frozen=True, slots=True)
class VerifiedSiwe:
    address: str  # lower-case 0x address, the form stored in users.wallet_address
    nonce: str


def siwe_problem(code: str, detail: str) -> ApiProblem:
    return ApiProblem(401, code, "Sign-In with Ethereum failed", detail)


def normalize_address(address: str) -> str:
    """The stored form of a wallet address: 0x and 40 lower-case hex digits."""
    if not ADDRESS_RE.fullmatch(address):
        raise ApiProblem(422, "invalid_address", "The address is not valid", "0x and 40 hex digits")
    return address.lower()


def verify_siwe(
    message: str, signature: str, *, domain: str, chain_id: int, now_s: float
) -> VerifiedSiwe:
    """The signer and nonce of a valid message; ApiProblem(401) naming the failed check otherwise."""
    siwe = _siwe()
    parsed = _parse(message, domain)
    if parsed.domain != domain:
        raise siwe_problem("siwe_domain_mismatch", "the message is for another domain")
    if _host(parsed.uri) != _host(f"//{domain}"):
        raise siwe_problem("siwe_uri_mismatch", "the message URI is for another host")
    if parsed.chain_id != chain_id:
        raise siwe_problem("siwe_chain_mismatch", f"sign in on chain id {chain_id}")
    if not SIGNATURE_RE.fullmatch(signature) or signature[-2:].lower() not in CANONICAL_V:
        raise siwe_problem("siwe_signature_invalid", "the signature is not 65 bytes r, s, v")
    try:
        parsed.verify(signature, domain=domain, timestamp=datetime.fromtimestamp(now_s, tz=UTC))
    except siwe.ExpiredMessage:
        raise siwe_problem("siwe_expired", "the message has expired") from None
    except siwe.NotYetValidMessage:
        raise siwe_problem("siwe_not_yet_valid", "the message is not valid yet") from None
    except Exception:  # eth_keys' BadSignature, coincurve's ValueError, siwe's own: all a no
        raise siwe_problem("siwe_signature_invalid", "the signature does not match") from None
    return VerifiedSiwe(address=str(parsed.address).lower(), nonce=str(parsed.nonce))


def _parse(message: str, domain: str) -> Any:
    if not message or len(message) > MAX_MESSAGE_CHARS:
        raise siwe_problem("siwe_invalid", f"a message has 1 to {MAX_MESSAGE_CHARS} characters")
    header = HEADER_RE.match(message)
    if header is None:
        raise siwe_problem("siwe_invalid", "not an EIP-4361 message")
    if header.group(1) != domain:
        raise siwe_problem("siwe_domain_mismatch", "the message is for another domain")
    try:
        parsed = _siwe().SiweMessage.from_message(message, abnf=False)
        canonical = parsed.prepare_message()
    except Exception:  # the parser raises ValueError, pydantic errors and its own
        raise siwe_problem("siwe_invalid", "not an EIP-4361 message") from None
    if canonical != message:
        raise siwe_problem("siwe_invalid", "the message is not in canonical EIP-4361 form")
    return parsed


@functools.cache
def _siwe() -> Any:
    """The siwe package, imported on first use (it pulls in web3). Its ABNF grammar, built at
    import, redefines RFC 5234 core rules and warns about it: nothing to act on here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import siwe  # type: ignore[import-untyped,unused-ignore]
    return siwe


def _host(uri: str) -> str | None:
    try:
        return urlsplit(uri).hostname
    except ValueError:
        return None
