"""TOTP MFA over HTTP: enrol, confirm with a real pyotp code, then logins need a fresh code.
The secret leaves the server once (the enrolment answer) and is stored encrypted when the
service is given a cipher."""

from __future__ import annotations

import base64
import logging

import pyotp
import pytest
import sqlalchemy as sa
from auth_support import (
    API,
    PASSWORD,
    AuditLog,
    Clock,
    bearer,
    client,
    login,
    make_service,
    problem_code,
    tokens_of,
)
from cryptography.fernet import Fernet

from grekko.api.auth.service import AuthService

pytestmark = pytest.mark.asyncio


@pytest.fixture
def fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(b"0" * 32))


@pytest.fixture
def service(engine: sa.Engine, clock: Clock, fernet: Fernet) -> AuthService:
    service = make_service(
        engine,
        clock,
        encrypt=lambda text: fernet.encrypt(text.encode()).decode(),
        decrypt=lambda text: fernet.decrypt(text.encode()).decode(),
    )
    service.create_user("root", PASSWORD, "admin")
    return service


async def test_enrol_verify_then_login_needs_a_fresh_code(
    service: AuthService, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    audit: AuditLog = []
    async with client(service, audit) as http:
        session = await tokens_of(http, "root")
        auth = bearer(session["access_token"])
        enrol = await http.post(f"{API}/auth/mfa/enrol", headers=auth)
        assert enrol.status_code == 200
        assert enrol.headers["cache-control"] == "no-store"
        secret = enrol.json()["secret"]
        assert enrol.json()["otpauth_uri"].startswith("otpauth://totp/Grekko:root?secret=")
        totp = pyotp.TOTP(secret)

        assert (await login(http, "root")).status_code == 200  # not enabled until verified
        valid = {totp.at(int(clock.now) + step) for step in (-30, 0, 30)}
        wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
        wrong = await http.post(f"{API}/auth/mfa/verify", json={"code": wrong_code}, headers=auth)
        assert problem_code(wrong) == "otp_invalid"
        ok = await http.post(
            f"{API}/auth/mfa/verify", json={"code": totp.at(int(clock.now))}, headers=auth
        )
        assert ok.status_code == 200
        assert ok.json()["mfa_enabled"] is True

        clock.now += 3600
        without = await login(http, "root")
        assert without.status_code == 401
        assert problem_code(without) == "mfa_required"
        stale = await login(http, "root", otp=totp.at(int(clock.now) - 3600))
        assert problem_code(stale) == "otp_invalid"
        fresh = await login(http, "root", otp=totp.at(int(clock.now)))
        assert fresh.status_code == 200
        who = await http.get(f"{API}/auth/me", headers=bearer(fresh.json()["access_token"]))
        assert who.json()["session_mfa"] is True
        assert who.json()["mfa_enabled"] is True
        previous_step = await login(http, "root", otp=totp.at(int(clock.now) - 30))
        assert previous_step.status_code == 200  # valid_window=1 allows for clock drift
        again = await http.post(
            f"{API}/auth/mfa/enrol", headers=bearer(fresh.json()["access_token"])
        )
        assert problem_code(again) == "mfa_already_enabled"

    assert secret not in caplog.text
    assert ("root", "auth.mfa_enable", "user:root", {}) in audit
    stored = service.store.get_user_by_username("root")
    assert stored is not None
    assert stored.totp_secret is not None
    assert secret not in stored.totp_secret  # encrypted at rest


async def test_refreshed_sessions_keep_the_mfa_flag(service: AuthService, clock: Clock) -> None:
    root = service.user_by_name("root")
    secret = service.mfa_enrol(root.id).secret
    service.mfa_verify(root.id, pyotp.TOTP(secret).at(int(clock.now)))
    async with client(service) as http:
        pair = (await login(http, "root", otp=pyotp.TOTP(secret).at(int(clock.now)))).json()
        rotated = await http.post(
            f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        who = await http.get(f"{API}/auth/me", headers=bearer(rotated.json()["access_token"]))
        assert who.json()["session_mfa"] is True


async def test_verify_without_enrolment_and_with_an_api_key(service: AuthService) -> None:
    root = service.user_by_name("root")
    key = service.create_api_key(root.id, "bot", "admin").key
    async with client(service) as http:
        pair = await tokens_of(http, "root")
        early = await http.post(
            f"{API}/auth/mfa/verify", json={"code": "123456"}, headers=bearer(pair["access_token"])
        )
        assert problem_code(early) == "mfa_not_enrolled"
        by_key = await http.post(f"{API}/auth/mfa/enrol", headers={"X-API-Key": key})
        assert by_key.status_code == 403
        assert problem_code(by_key) == "session_required"
