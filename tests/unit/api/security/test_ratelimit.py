"""Rate limits over HTTP with the in-memory storage: per IP, per user, on login; 429 problems."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from grekko.api.principal import Principal, Role
from grekko.api.problems import install_problem_handlers
from grekko.api.ratelimit import RateLimiter, RateLimitMiddleware
from grekko.core.errors import ConfigError


class PrincipalFromTestHeader:
    """Stands in for an auth layer that ran before the limiter: sets request.state.principal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"x-test-user-id":
                principal = Principal(int(value), f"u{int(value)}", Role.TRADER, "jwt")
                scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def _app(limiter: RateLimiter, **options: Any) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/v1/things")
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/api/v1/auth/login")
    async def login() -> dict[str, str]:
        return {"token": "not-a-real-token"}

    @app.get("/api/v1/auth/login")
    async def login_form() -> dict[str, str]:
        return {"form": "here"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    app.add_middleware(RateLimitMiddleware, limiter=limiter, **options)
    app.add_middleware(PrincipalFromTestHeader)
    return app


def _client(app: FastAPI, ip: str = "198.51.100.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _assert_rate_limited(response: httpx.Response, limit: str, window_s: int) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window_s
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["status"] == 429
    assert body["retry_after"] == retry_after
    assert f"The {limit} rate limit" in body["detail"]


@pytest.mark.asyncio
async def test_per_ip_limit_answers_429_and_other_ips_are_not_affected() -> None:
    app = _app(RateLimiter(ip_limit="3/minute"))
    async with _client(app) as first, _client(app, "198.51.100.2") as second:
        for _ in range(3):
            assert (await first.get("/api/v1/things")).status_code == 200
        _assert_rate_limited(await first.get("/api/v1/things"), "ip", 60)
        assert (await second.get("/api/v1/things")).status_code == 200
        assert (await first.get("/health")).status_code == 200  # exempt


@pytest.mark.asyncio
async def test_per_user_limit_follows_the_credential_not_the_ip() -> None:
    app = _app(RateLimiter(user_limit="2/minute", ip_limit="100/minute"))
    alice = {"Authorization": "Bearer token-of-alice-0123456789"}
    bob = {"Authorization": "Bearer token-of-bob-0123456789"}
    async with _client(app) as client, _client(app, "203.0.113.9") as elsewhere:
        assert (await client.get("/api/v1/things", headers=alice)).status_code == 200
        assert (await elsewhere.get("/api/v1/things", headers=alice)).status_code == 200
        _assert_rate_limited(await client.get("/api/v1/things", headers=alice), "user", 60)
        assert (await client.get("/api/v1/things", headers=bob)).status_code == 200
        assert (await client.get("/api/v1/things")).status_code == 200  # anonymous: IP only


@pytest.mark.asyncio
async def test_an_authenticated_principal_is_one_user_whatever_its_token() -> None:
    app = _app(RateLimiter(user_limit="2/minute", ip_limit="100/minute"))
    async with _client(app) as client:
        for n in range(2):
            headers = {"X-Test-User-Id": "7", "Authorization": f"Bearer token-{n}-abcdefgh"}
            assert (await client.get("/api/v1/things", headers=headers)).status_code == 200
        headers = {"X-Test-User-Id": "7", "Authorization": "Bearer a-third-token-abcdefgh"}
        _assert_rate_limited(await client.get("/api/v1/things", headers=headers), "user", 60)
        other = {"X-Test-User-Id": "8"}
        assert (await client.get("/api/v1/things", headers=other)).status_code == 200


@pytest.mark.asyncio
async def test_login_has_its_own_stricter_limit() -> None:
    app = _app(RateLimiter(login_limit="2/minute", ip_limit="100/minute"))
    async with _client(app) as client:
        assert (await client.post("/api/v1/auth/login")).status_code == 200
        assert (await client.post("/api/v1/auth/login")).status_code == 200
        _assert_rate_limited(await client.post("/api/v1/auth/login"), "login", 60)
        assert (await client.get("/api/v1/auth/login")).status_code == 200  # only POST
        assert (await client.get("/api/v1/things")).status_code == 200
    async with _client(app, "198.51.100.77") as other:
        assert (await other.post("/api/v1/auth/login")).status_code == 200


@pytest.mark.asyncio
async def test_retry_after_comes_from_the_window() -> None:
    app = _app(RateLimiter(ip_limit="1/hour"))
    async with _client(app) as client:
        assert (await client.get("/api/v1/things")).status_code == 200
        response = await client.get("/api/v1/things")
    _assert_rate_limited(response, "ip", 3600)
    assert int(response.headers["retry-after"]) > 3000  # the hour just began


@pytest.mark.asyncio
async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    untrusted = _app(RateLimiter(ip_limit="1/minute"))
    async with _client(untrusted, "10.0.0.5") as client:
        spoofed = {"X-Forwarded-For": "203.0.113.1"}
        assert (await client.get("/api/v1/things", headers=spoofed)).status_code == 200
        spoofed = {"X-Forwarded-For": "203.0.113.2"}
        assert (await client.get("/api/v1/things", headers=spoofed)).status_code == 429

    proxied = _app(RateLimiter(ip_limit="1/minute"), trusted_proxies=["10.0.0.0/8"])
    async with _client(proxied, "10.0.0.5") as proxy:
        first = {"X-Forwarded-For": "198.51.100.200, 203.0.113.1"}  # client forged the first hop
        assert (await proxy.get("/api/v1/things", headers=first)).status_code == 200
        assert (await proxy.get("/api/v1/things", headers=first)).status_code == 429
        second = {"X-Forwarded-For": "203.0.113.2, 10.0.0.9"}  # two proxies deep
        assert (await proxy.get("/api/v1/things", headers=second)).status_code == 200


async def _websocket_handshake(app: ASGIApp, ip: str) -> list[Message]:
    """Drive one WebSocket connection through the ASGI protocol, as a server would."""
    inbound: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []
    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": (ip, 40000),
        "server": ("testserver", 80),
        "subprotocols": [],
    }

    async def receive() -> Message:
        return inbound.pop(0) if inbound else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.asyncio
async def test_a_websocket_over_the_limit_is_closed_with_policy_violation() -> None:
    app = _app(RateLimiter(ip_limit="1/minute"))
    accepted = await _websocket_handshake(app, "198.51.100.1")
    assert [m["type"] for m in accepted] == [
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    ]
    refused = await _websocket_handshake(app, "198.51.100.1")
    assert refused == [{"type": "websocket.close", "code": 1008, "reason": "rate limited"}]
    assert (await _websocket_handshake(app, "198.51.100.2"))[0]["type"] == "websocket.accept"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.asyncio
async def test_storage_failure_fails_open_or_closed_as_configured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    uri = f"redis://127.0.0.1:{_closed_port()}"
    async with _client(_app(RateLimiter(uri))) as client:
        assert (await client.get("/api/v1/things")).status_code == 200
    assert "rate limit storage failed" in caplog.text
    async with _client(_app(RateLimiter(uri, fail_open=False))) as client:
        response = await client.get("/api/v1/things")
    assert response.status_code == 503
    assert response.json()["code"] == "rate_limiter_unavailable"
    assert not await RateLimiter(uri).healthy()


def test_bad_configuration_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(ConfigError, match="user rate limit 'lots' is not like"):
        RateLimiter(user_limit="lots")
    with pytest.raises(ConfigError, match="must be memory:// or redis") as info:
        RateLimiter("memcached://admin:s3cretpass@127.0.0.1:11211")
    assert "s3cretpass" not in str(info.value)
    with pytest.raises(ConfigError, match="trusted proxy 'nope'"):
        RateLimitMiddleware(FastAPI(), RateLimiter(), trusted_proxies=["nope"])
