"""The whole platform as `grekko up` builds it (bootstrap), driven in-process over ASGI.

The replay runs in the app's lifespan exactly as under uvicorn; requests go through the real
middleware stack, auth, risk engine, paper venue and SQLite event store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from grekko.api.principal import Role
from grekko.bootstrap.api import Platform, build_platform
from grekko.settings import load_settings

BASE = "http://127.0.0.1:8000"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test user's password
FAST_LIMITS = {
    "GREKKO_API__RATE_LIMIT_USER": "1000000/minute",
    "GREKKO_API__RATE_LIMIT_IP": "1000000/minute",
    "GREKKO_API__RATE_LIMIT_LOGIN": "1000/minute",
    "GREKKO_RISK__MAX_ORDERS_PER_SECOND": "100000",
    "GREKKO_CHAIN__ENABLED": "false",  # the chain side has its own tests (tests/integration/chain)
}


@dataclass
class Harness:
    platform: Platform
    client: httpx.AsyncClient
    tokens: dict[Role, str]
    data_dir: Path

    @property
    def app(self) -> Any:
        return self.platform.app

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def forged(self, role: Role, **claims: Any) -> str:
        """A token signed with the server's real key but with changed claims (e.g. expired)."""
        secret = (self.data_dir / "jwt.key").read_bytes()
        payload = jwt.decode(self.tokens[role], options={"verify_signature": False})
        payload.update(claims)
        return jwt.encode(payload, secret, algorithm="HS256")


async def _login(client: httpx.AsyncClient, username: str, password: str) -> str:
    answer = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@asynccontextmanager
async def running_platform(
    data_dir: Path, *, env: dict[str, str] | None = None, bars: int = 400
) -> AsyncIterator[Harness]:
    settings = load_settings(data_dir, env={**FAST_LIMITS, **(env or {})})
    platform = build_platform(settings, speed=5000, max_bars=bars)
    app = platform.app
    try:
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + 30
            while platform.session.progress().processed < 60 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                auth = app.state.auth
                auth.create_user("tess", PASSWORD, "trader")
                auth.create_user("vic", PASSWORD, "viewer")
                assert platform.admin_password is not None
                tokens = {
                    Role.ADMIN: await _login(client, "admin", platform.admin_password),
                    Role.TRADER: await _login(client, "tess", PASSWORD),
                    Role.VIEWER: await _login(client, "vic", PASSWORD),
                }
                yield Harness(platform, client, tokens, data_dir)
    finally:
        platform.session.close()
