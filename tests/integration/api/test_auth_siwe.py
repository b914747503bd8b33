"""Sign-In with Ethereum over HTTP with real keys: a fresh eth_account key signs a real
EIP-4361 message (EIP-191 personal_sign); the nonce is single use and every field we check
(domain, URI host, chain id, validity window, signature) has a test that breaks only it."""

from __future__ import annotations

from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from auth_support import (
    API,
    CHAIN_ID,
    PASSWORD,
    T0,
    Clock,
    bearer,
    client,
    iso,
    make_service,
    new_account,
    problem_code,
    sign,
    siwe_text,
)

from grekko.adapters.sql import tables
from grekko.api.auth.service import AuthService

pytestmark = pytest.mark.asyncio


@pytest.fixture
def account() -> Any:
    return new_account()


@pytest.fixture
def service(engine: sa.Engine, clock: Clock, account: Any) -> AuthService:
    service = make_service(engine, clock)
    alice = service.create_user("alice", PASSWORD, "trader")
    service.link_wallet(alice.id, account.address)
    return service


async def nonce(http: httpx.AsyncClient) -> str:
    answer = await http.get(f"{API}/auth/siwe/nonce")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["domain"], body["chain_id"]) == ("127.0.0.1:8000", CHAIN_ID)
    assert body["expires_at"] == "2026-01-01T00:05:00.000000Z"
    value: str = body["nonce"]
    return value


async def siwe(http: httpx.AsyncClient, text: str, signature: str, **extra: Any) -> httpx.Response:
    body = {"message": text, "signature": signature, **extra}
    return await http.post(f"{API}/auth/siwe/login", json=body)


async def test_signed_message_logs_the_wallet_owner_in(service: AuthService, account: Any) -> None:
    async with client(service) as http:
        text = siwe_text(account.address, await nonce(http))
        answer = await siwe(http, text, sign(account, text))
        assert answer.status_code == 200, answer.text
        who = await http.get(f"{API}/auth/me", headers=bearer(answer.json()["access_token"]))
        assert who.json()["username"] == "alice"
        assert who.json()["wallet_address"] == account.address.lower()
        replay = await siwe(http, text, sign(account, text))
        assert replay.status_code == 401
        assert problem_code(replay) == "siwe_nonce_invalid"


async def test_each_check_fails_on_its_own(service: AuthService, account: Any) -> None:
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "siwe_domain_mismatch": ({"domain": "evil.example"}, ""),
        "siwe_uri_mismatch": ({"uri": "https://evil.example/login"}, ""),
        "siwe_chain_mismatch": ({"chain_id": 1}, ""),
        "siwe_expired": ({"expiration_time": iso(T0 - 1)}, ""),
        "siwe_not_yet_valid": ({"not_before": iso(T0 + 60)}, ""),
        "siwe_signature_invalid": ({}, "other signer"),
    }
    async with client(service) as http:
        for code, (fields, mode) in cases.items():
            value = await nonce(http)
            text = siwe_text(account.address, value, **fields)
            signer = new_account() if mode == "other signer" else account
            answer = await siwe(http, text, sign(signer, text))
            assert answer.status_code == 401, code
            assert problem_code(answer) == code
            good = siwe_text(account.address, value)  # the nonce was not burnt by the failure
            assert (await siwe(http, good, sign(account, good))).status_code == 200, code


async def test_nonce_must_be_ours_and_fresh(
    service: AuthService, account: Any, clock: Clock
) -> None:
    async with client(service) as http:
        invented = siwe_text(account.address, "abcdefgh12345678")
        unknown = await siwe(http, invented, sign(account, invented))
        assert problem_code(unknown) == "siwe_nonce_invalid"
        value = await nonce(http)
        clock.now += 300
        late = siwe_text(account.address, value, issued_at=iso(clock.now))
        expired = await siwe(http, late, sign(account, late))
        assert problem_code(expired) == "siwe_nonce_invalid"


async def test_malformed_messages_and_signatures(service: AuthService, account: Any) -> None:
    async with client(service) as http:
        text = siwe_text(account.address, await nonce(http))
        signature = sign(account, text)
        edited = text.replace("Sign in to Grekko", "Sign in to Grekko and send all funds")
        assert problem_code(await siwe(http, edited, signature)) == "siwe_signature_invalid"
        noncanonical = text + "\n"
        assert problem_code(await siwe(http, noncanonical, signature)) == "siwe_invalid"
        assert problem_code(await siwe(http, "hello", signature)) == "siwe_invalid"
        assert problem_code(await siwe(http, "x." * 2000, signature)) == "siwe_invalid"
        short = await siwe(http, text, signature[:-2])
        assert problem_code(short) == "validation_error"
        zero = await siwe(http, text, "0x" + "00" * 65)
        assert problem_code(zero) == "siwe_signature_invalid"
        assert (await siwe(http, text, signature)).status_code == 200


async def test_unknown_wallets_are_refused_by_default(service: AuthService) -> None:
    stranger = new_account()
    async with client(service) as http:
        text = siwe_text(stranger.address, await nonce(http))
        answer = await siwe(http, text, sign(stranger, text))
        assert problem_code(answer) == "wallet_not_linked"


async def test_opt_in_creates_viewers_for_new_wallets(engine: sa.Engine, clock: Clock) -> None:
    service = make_service(engine, clock, siwe_create_viewers=True)
    stranger = new_account()
    async with client(service) as http:
        for _ in range(2):
            text = siwe_text(stranger.address, await nonce(http))
            answer = await siwe(http, text, sign(stranger, text))
            assert answer.status_code == 200
            who = await http.get(f"{API}/auth/me", headers=bearer(answer.json()["access_token"]))
            assert who.json()["role"] == "viewer"
            assert who.json()["username"] == stranger.address.lower()
        password_login = await http.post(
            f"{API}/auth/login",
            json={"username": stranger.address.lower(), "password": "x" * 12},
        )
        assert problem_code(password_login) == "invalid_credentials"
    assert len(service.list_users()) == 1


async def test_wallet_users_with_mfa_need_the_code(
    service: AuthService, account: Any, clock: Clock
) -> None:
    alice_id = service.user_by_name("alice").id
    secret = service.mfa_enrol(alice_id).secret
    service.mfa_verify(alice_id, pyotp.TOTP(secret).at(int(clock.now)))
    async with client(service) as http:
        text = siwe_text(account.address, await nonce(http))
        assert problem_code(await siwe(http, text, sign(account, text))) == "mfa_required"
        text = siwe_text(account.address, await nonce(http))
        code = pyotp.TOTP(secret).at(int(clock.now))
        answer = await siwe(http, text, sign(account, text), otp=code)
        assert answer.status_code == 200
        who = await http.get(f"{API}/auth/me", headers=bearer(answer.json()["access_token"]))
        assert who.json()["session_mfa"] is True


async def test_expired_nonces_and_tokens_are_purged(
    engine: sa.Engine, service: AuthService, clock: Clock
) -> None:
    def rows(table: sa.Table) -> int:
        with engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(table)
            return int(connection.execute(query).scalar_one())

    service.new_nonce()
    service.login("alice", PASSWORD)
    clock.now += 301
    for _ in range(98):
        service.new_nonce()
    assert rows(tables.siwe_nonces) == 99
    service.new_nonce()  # the 100th purges the expired one
    assert rows(tables.siwe_nonces) == 99
    clock.now += 86_400
    assert rows(tables.refresh_tokens) == 1
    assert service.purge_expired() == 100
    assert rows(tables.refresh_tokens) + rows(tables.siwe_nonces) == 0
