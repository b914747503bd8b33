"""Password login and JWT sessions over HTTP: the real router, problem handlers, AuthService
and SQL store (SQLite and PostgreSQL). Covers rotation, reuse detection (the whole family
dies), logout, expiry on an injected clock, forged tokens, role checks, and that no secret
reaches a log or a stray answer."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from auth_support import (
    API,
    PASSWORD,
    AuditLog,
    Clock,
    bearer,
    client,
    login,
    make_app,
    make_service,
    postgres_engine,
    postgres_url,
    problem_code,
    sqlite_engine,
    tokens_of,
)

from grekko.adapters.sql.audit_store import SqlAuditLog
from grekko.api.auth.service import AuthService

pytestmark = pytest.mark.asyncio
__all__ = ["postgres_url"]  # the fixture, imported for pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """Sessions are where the databases' update semantics matter most: run them on both."""
    if request.param == "postgresql":
        yield from postgres_engine(request.getfixturevalue("postgres_url"))
        return
    engine = sqlite_engine(tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def service(engine: sa.Engine, clock: Clock) -> AuthService:
    service = make_service(engine, clock)
    service.create_user("alice", PASSWORD, "trader")
    service.create_user("vic", PASSWORD, "viewer")
    service.create_user("root", PASSWORD, "admin")
    return service


async def me(http: httpx.AsyncClient, access: str) -> httpx.Response:
    return await http.get(f"{API}/auth/me", headers=bearer(access))


async def refresh(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(f"{API}/auth/refresh", json={"refresh_token": token})


async def test_login_gives_a_pair_that_authenticates(service: AuthService) -> None:
    async with client(service) as http:
        response = await login(http, "alice")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert (body["token_type"], body["expires_in"]) == ("bearer", 900)
        who = await me(http, body["access_token"])
        assert who.status_code == 200
        assert who.json()["username"] == "alice"
        assert who.json()["via"] == "jwt"
        assert who.json()["session_mfa"] is False
        probe = await http.get(f"{API}/probe/trader", headers=bearer(body["access_token"]))
        assert probe.json() == {"user": "alice", "role": "trader"}
        assert (await login(http, "ALICE")).status_code == 200  # usernames are case-insensitive


async def test_bad_password_and_unknown_user_get_the_same_answer(service: AuthService) -> None:
    audit: AuditLog = []
    async with client(service, audit) as http:
        wrong = await login(http, "alice", "not the password!")
        unknown = await login(http, "nobody", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert problem_code(response) == "invalid_credentials"
    assert wrong.json() == unknown.json()
    assert [(a[0], a[1], a[3]) for a in audit] == [
        ("alice", "auth.login_failed", {"reason": "invalid_credentials"}),
        ("nobody", "auth.login_failed", {"reason": "invalid_credentials"}),
    ]


async def test_logins_land_in_the_real_audit_log(engine: sa.Engine, service: AuthService) -> None:
    log = SqlAuditLog(engine)
    app = make_app(service)
    app.state.audit = log.append
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await login(http, "alice", "a wrong password")).status_code == 401
        assert (await login(http, "  ", "whatever password")).status_code == 401
        assert (await login(http, "alice")).status_code == 200
    entries = log.list()
    assert [(e.actor, e.action, e.detail_dict()) for e in reversed(entries)] == [
        ("alice", "auth.login_failed", {"reason": "invalid_credentials"}),
        ("anonymous", "auth.login_failed", {"reason": "invalid_credentials"}),
        ("alice", "auth.login", {"method": "password"}),
    ]
    assert log.verify().ok
    assert all(PASSWORD not in e.detail and "wrong" not in e.detail for e in entries)


async def test_refresh_rotates_within_the_family(service: AuthService) -> None:
    async with client(service) as http:
        first = await tokens_of(http, "alice")
        rotated = await refresh(http, first["refresh_token"])
        assert rotated.status_code == 200
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert (await me(http, second["access_token"])).status_code == 200
        assert (await me(http, first["access_token"])).status_code == 200  # same live family
        third = await refresh(http, second["refresh_token"])
        assert third.status_code == 200


async def test_reusing_a_refresh_token_revokes_the_whole_family(service: AuthService) -> None:
    async with client(service) as http:
        stolen = await tokens_of(http, "alice")
        other_session = await tokens_of(http, "alice")
        newer = (await refresh(http, stolen["refresh_token"])).json()
        reused = await refresh(http, stolen["refresh_token"])
        assert reused.status_code == 401
        assert problem_code(reused) == "refresh_reused"
        newer_refresh = await refresh(http, newer["refresh_token"])
        assert newer_refresh.status_code == 401
        assert problem_code(newer_refresh) == "refresh_revoked"
        for access in (newer["access_token"], stolen["access_token"]):
            answer = await me(http, access)
            assert answer.status_code == 401
            assert problem_code(answer) == "token_revoked"
        assert (await me(http, other_session["access_token"])).status_code == 200
        assert (await refresh(http, other_session["refresh_token"])).status_code == 200


async def test_logout_ends_the_session(service: AuthService) -> None:
    async with client(service) as http:
        pair = await tokens_of(http, "alice")
        out = await http.post(f"{API}/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert out.status_code == 200
        assert out.json() == {"revoked": True}
        assert problem_code(await refresh(http, pair["refresh_token"])) == "refresh_revoked"
        assert problem_code(await me(http, pair["access_token"])) == "token_revoked"


async def test_expired_tokens_on_the_injected_clock(service: AuthService, clock: Clock) -> None:
    async with client(service) as http:
        pair = await tokens_of(http, "alice")
        clock.now += 899
        assert (await me(http, pair["access_token"])).status_code == 200
        clock.now += 1
        expired = await me(http, pair["access_token"])
        assert expired.status_code == 401
        assert problem_code(expired) == "token_expired"
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]
        fresh = await refresh(http, pair["refresh_token"])
        assert fresh.status_code == 200
        assert (await me(http, fresh.json()["access_token"])).status_code == 200
        clock.now += 86_400
        assert problem_code(await refresh(http, fresh.json()["refresh_token"])) == "token_expired"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forgeries(token: str) -> dict[str, str]:
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    admin = {**claims, "role": "admin", "sub": "3"}
    flip = "A" if signature[5] != "A" else "B"
    return {
        "flipped signature char": f"{header}.{payload}.{signature[:5]}{flip}{signature[6:]}",
        "edited payload": f"{header}.{_b64(admin)}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(admin)}.",
        "wrong key": jwt.encode(admin, b"w" * 32, algorithm="HS256"),
        "other HMAC alg": jwt.encode(admin, b"w" * 64, algorithm="HS512"),
        "truncated": token[:-10],
        "garbage": "not-a-jwt",
    }


async def test_forged_and_tampered_tokens_are_rejected(service: AuthService) -> None:
    async with client(service) as http:
        pair = await tokens_of(http, "alice")
        for name, forged in _forgeries(pair["access_token"]).items():
            answer = await me(http, forged)
            assert answer.status_code == 401, name
            assert problem_code(answer) == "token_invalid", name
        swapped = await me(http, pair["refresh_token"])
        assert problem_code(swapped) == "token_invalid"  # a refresh token is not an access token
        assert problem_code(await refresh(http, pair["access_token"])) == "token_invalid"


async def test_missing_or_malformed_credentials(service: AuthService) -> None:
    async with client(service) as http:
        none = await http.get(f"{API}/auth/me")
        assert none.status_code == 401
        assert problem_code(none) == "unauthenticated"
        assert none.headers["www-authenticate"].startswith("Bearer")
        basic = await http.get(f"{API}/auth/me", headers={"Authorization": "Basic YTpi"})
        assert problem_code(basic) == "token_invalid"


async def test_roles_are_enforced_and_read_fresh(service: AuthService) -> None:
    async with client(service) as http:
        viewer = await tokens_of(http, "vic")
        denied = await http.get(f"{API}/probe/trader", headers=bearer(viewer["access_token"]))
        assert denied.status_code == 403
        assert problem_code(denied) == "forbidden"
        users = await http.get(f"{API}/users", headers=bearer(viewer["access_token"]))
        assert users.status_code == 403
        trader = await tokens_of(http, "alice")
        root = await tokens_of(http, "root")
        alice_id = (await me(http, trader["access_token"])).json()["id"]
        demote = await http.patch(
            f"{API}/users/{alice_id}", json={"role": "viewer"}, headers=bearer(root["access_token"])
        )
        assert demote.status_code == 200
        probe = await http.get(f"{API}/probe/trader", headers=bearer(trader["access_token"]))
        assert probe.status_code == 403  # the old token does not keep the old role


async def test_disabling_a_user_ends_their_sessions(service: AuthService) -> None:
    async with client(service) as http:
        pair = await tokens_of(http, "alice")
        root = await tokens_of(http, "root")
        alice_id = (await me(http, pair["access_token"])).json()["id"]
        off = await http.patch(
            f"{API}/users/{alice_id}", json={"disabled": True}, headers=bearer(root["access_token"])
        )
        assert off.json()["disabled"] is True
        assert problem_code(await me(http, pair["access_token"])) == "user_disabled"
        assert problem_code(await refresh(http, pair["refresh_token"])) == "refresh_revoked"
        assert problem_code(await login(http, "alice")) == "user_disabled"


async def test_requests_are_validated_strictly(service: AuthService) -> None:
    async with client(service) as http:
        extra = await http.post(
            f"{API}/auth/login", json={"username": "alice", "password": PASSWORD, "admin": True}
        )
        wrong_type = await http.post(f"{API}/auth/login", json={"username": 1, "password": 2})
        long_name = await login(http, "a" * 65)
        bad_otp = await login(http, "alice", otp="12ab56")
    for response in (extra, wrong_type, long_name, bad_otp):
        assert response.status_code == 422
        assert problem_code(response) == "validation_error"
    assert PASSWORD not in extra.text


async def test_no_secret_in_logs_or_other_answers(
    service: AuthService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[httpx.Response] = []
    async with client(service) as http:
        pair = await tokens_of(http, "alice")
        answers.append(await login(http, "alice", "a wrong password"))
        answers.append(await me(http, pair["access_token"]))
        rotated = await refresh(http, pair["refresh_token"])
        answers.append(await refresh(http, pair["refresh_token"]))  # reuse, logged as a warning
        answers.append(await me(http, pair["access_token"] + "x"))
        answers.append(
            await http.post(f"{API}/auth/logout", json={"refresh_token": pair["refresh_token"]})
        )
    secrets = [
        PASSWORD,
        "a wrong password",
        pair["access_token"],
        pair["refresh_token"],
        rotated.json()["access_token"],
        pair["access_token"].split(".")[2],
    ]
    assert "login failed" in caplog.text  # the log is there, only without secrets
    for secret in secrets:
        assert secret not in caplog.text
        for answer in answers:
            assert secret not in answer.text
    assert all(u.password_hash.startswith("$argon2id$") for u in service.store.list_users())


async def test_outdated_hashes_are_upgraded_on_login(engine: sa.Engine, clock: Clock) -> None:
    cheap = make_service(engine, clock)
    cheap.create_user("old", PASSWORD, "viewer")
    before = cheap.store.get_user_by_username("old")
    stronger = make_service(
        engine, clock, password_hasher=PasswordHasher(time_cost=1, memory_cost=16384)
    )
    async with client(stronger) as http:
        assert (await login(http, "old")).status_code == 200
    after = stronger.store.get_user_by_username("old")
    assert before is not None
    assert after is not None
    assert after.password_hash != before.password_hash
    assert "m=16384" in after.password_hash
