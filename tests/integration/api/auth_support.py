"""Shared pieces of the auth tests: real databases, a controllable clock, the tiny app, SIWE.

The app is the real router with the real problem handlers over a real AuthService and a real
SQL store; only the argon2 cost is lowered (the library's CHEAPEST profile, still argon2id) so
the suite stays fast, and time is a settable clock so expiry is tested without sleeping.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import Depends, FastAPI

from grekko.adapters.sql.auth_store import SqlAuthStore
from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.api.auth.dependencies import CurrentPrincipal, require
from grekko.api.auth.routes import auth_router
from grekko.api.auth.service import AuthService
from grekko.api.principal import Principal, Role
from grekko.api.problems import install_problem_handlers
from postgres_support import reachable_postgres_url

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DOMAIN = "127.0.0.1:8000"
CHAIN_ID = 31337
PASSWORD = "correct horse battery"  # noqa: S105 - a test password
API = "/api/v1"


class Clock:
    """now_s for the service: starts at T0 and moves only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def fast_hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(CHEAPEST)


def sqlite_engine(tmp_path: Path) -> sa.Engine:
    engine = build_engine(f"sqlite:///{tmp_path / 'data' / 'grekko.db'}")
    upgrade_to_head(engine)
    return engine


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return reachable_postgres_url()


def postgres_engine(url: str) -> Iterator[sa.Engine]:
    """A migrated schema of its own, dropped with everything in it afterwards."""
    schema = f"grekko_test_{uuid.uuid4().hex[:16]}"
    engine = build_engine(url, schema=schema)
    upgrade_to_head(engine, schema)
    yield engine
    engine.dispose()
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


def make_service(engine: sa.Engine, clock: Clock, **options: Any) -> AuthService:
    defaults: dict[str, Any] = {
        "jwt_secret": b"k" * 16 + os.urandom(16),
        "access_ttl_s": 900,
        "refresh_ttl_s": 86_400,
        "siwe_domain": DOMAIN,
        "siwe_chain_id": CHAIN_ID,
        "now_s": clock,
        "password_hasher": fast_hasher(),
    }
    return AuthService(SqlAuthStore(engine), **{**defaults, **options})


AuditLog = list[tuple[str, str, str, dict[str, object]]]


def make_app(service: AuthService, audit: AuditLog | None = None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(auth_router())
    app.state.auth = service
    if audit is not None:
        app.state.audit = lambda actor, action, target, detail: audit.append(
            (actor, action, target, dict(detail))
        )

    @app.get(f"{API}/probe/trader")
    def trader_only(
        principal: Annotated[Principal, Depends(require(Role.TRADER))],
    ) -> dict[str, str]:
        return {"user": principal.username, "role": principal.role.value}

    @app.get(f"{API}/probe/any")
    def anyone(principal: CurrentPrincipal) -> dict[str, str]:
        return {"user": principal.username, "via": principal.via}

    return app


@asynccontextmanager
async def client(
    service: AuthService, audit: AuditLog | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """Real HTTP semantics through the ASGI app, no socket."""
    transport = httpx.ASGITransport(app=make_app(service, audit))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def login(
    http: httpx.AsyncClient, username: str, password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    body = {"username": username, "password": password, **extra}
    return await http.post(f"{API}/auth/login", json=body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def tokens_of(
    http: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    response = await login(http, username, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    code: str = response.json()["code"]
    return code


# ---- Sign-In with Ethereum -----------------------------------------------------------------
def iso(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def siwe_text(address: str, nonce: str, **fields: Any) -> str:
    """A real EIP-4361 message, serialized by the siwe package as a wallet would show it."""
    with warnings.catch_warnings():  # its ABNF grammar warns about RFC 5234 core rules
        warnings.simplefilter("ignore")
        from siwe import SiweMessage

    values: dict[str, Any] = {
        "domain": DOMAIN,
        "address": address,
        "statement": "Sign in to Grekko",
        "uri": f"http://{DOMAIN}/login",
        "version": "1",
        "chain_id": CHAIN_ID,
        "nonce": nonce,
        "issued_at": iso(T0),
    }
    values.update(fields)
    return str(SiweMessage(**values).prepare_message())


def sign(account: Any, text: str) -> str:
    signed = account.sign_message(encode_defunct(text=text))
    return "0x" + bytes(signed.signature).hex()


def new_account() -> Any:
    return Account.create()
