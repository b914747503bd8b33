"""install_security over HTTP: security headers, CORS allow-list, body limit, WebSocket origins."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.types import ASGIApp, Message, Scope
from starlette.websockets import WebSocket

from grekko.api.middleware import install_security
from grekko.api.problems import install_problem_handlers
from grekko.api.ratelimit import RateLimiter
from grekko.core.errors import ConfigError

UI = "http://127.0.0.1:8000"
EVIL = "https://evil.example"
LIMIT = 1024


def _app(**options: object) -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    install_problem_handlers(app)
    bodies: list[int] = []

    @app.get("/")
    async def index() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>Grekko</title>")

    @app.get("/api/v1/things")
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/api/v1/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        bodies.append(len(body))
        return {"received": len(body)}

    @app.get("/api/v1/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f"line {i}\n".encode()

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    install_security(app, cors_origins=[UI], max_body_bytes=LIMIT, **options)  # type: ignore[arg-type]
    return app, bodies


def _client(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def _assert_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp


@pytest.mark.asyncio
async def test_every_response_carries_the_security_headers() -> None:
    app, _ = _app()
    async with _client(app) as client:
        api = await client.get("/api/v1/things")
        page = await client.get("/")
        missing = await client.get("/api/v1/nothing-here")
    for response in (api, page, missing):
        _assert_security_headers(response)
        assert "strict-transport-security" not in response.headers  # plain http
    assert "connect-src 'self' ws://testserver;" in api.headers["content-security-policy"]
    assert api.headers["cache-control"] == "no-store"
    assert missing.headers["cache-control"] == "no-store"
    assert missing.headers["content-type"] == "application/problem+json"
    assert "cache-control" not in page.headers


@pytest.mark.asyncio
async def test_https_adds_hsts_and_a_secure_websocket_source() -> None:
    app, _ = _app()
    async with _client(app, "https://grekko.example.com") as client:
        response = await client.get("/api/v1/things")
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")
    csp = response.headers["content-security-policy"]
    assert "connect-src 'self' wss://grekko.example.com;" in csp


@pytest.mark.asyncio
async def test_a_forged_host_cannot_inject_csp_directives() -> None:
    app, _ = _app()
    async with _client(app) as client:
        response = await client.get(
            "/api/v1/things", headers={"Host": "x; script-src 'unsafe-inline'"}
        )
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline'; " not in csp.split("style-src")[0]
    assert "connect-src 'self';" in csp


@pytest.mark.asyncio
async def test_cors_allows_only_listed_origins_with_credentials() -> None:
    app, _ = _app()
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with _client(app) as client:
        allowed = await client.options("/api/v1/echo", headers={"Origin": UI, **preflight})
        refused = await client.options("/api/v1/echo", headers={"Origin": EVIL, **preflight})
        simple_ok = await client.get("/api/v1/things", headers={"Origin": UI})
        simple_evil = await client.get("/api/v1/things", headers={"Origin": EVIL})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    _assert_security_headers(allowed)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert simple_ok.headers["access-control-allow-origin"] == UI
    assert "access-control-allow-origin" not in simple_evil.headers


@pytest.mark.asyncio
async def test_a_declared_body_over_the_limit_is_refused_before_reading() -> None:
    app, bodies = _app()
    async with _client(app) as client:
        ok = await client.post("/api/v1/echo", content=b"x" * LIMIT)
        too_big = await client.post(
            "/api/v1/echo", content=b"x" * (LIMIT + 1), headers={"Origin": UI}
        )
    assert ok.json() == {"received": LIMIT}
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    problem = too_big.json()
    assert (problem["code"], problem["max_body_bytes"]) == ("payload_too_large", LIMIT)
    assert too_big.headers["access-control-allow-origin"] == UI  # readable by the UI
    _assert_security_headers(too_big)
    assert bodies == [LIMIT]  # the route never saw the big one


async def _chunked(total: int, chunk: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        size = min(chunk, total - sent)
        sent += size
        yield b"y" * size


@pytest.mark.asyncio
async def test_a_chunked_body_is_counted_while_it_streams() -> None:
    app, bodies = _app()
    async with _client(app) as client:
        small = await client.post("/api/v1/echo", content=_chunked(1000))
        big = await client.post("/api/v1/echo", content=_chunked(5000))
    assert small.request.headers.get("transfer-encoding") == "chunked"
    assert small.json() == {"received": 1000}
    assert big.status_code == 413
    assert big.json()["code"] == "payload_too_large"
    assert bodies == [1000]


@pytest.mark.asyncio
async def test_a_malformed_content_length_is_a_bad_request() -> None:
    app, bodies = _app()
    async with _client(app) as client:
        response = await client.post(
            "/api/v1/echo", content=b"abc", headers={"Content-Length": "3x"}
        )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert bodies == []


@pytest.mark.asyncio
async def test_streaming_responses_pass_through() -> None:
    app, _ = _app()
    async with _client(app) as client, client.stream("GET", "/api/v1/stream") as response:
        chunks = [chunk async for chunk in response.aiter_bytes()]
    assert b"".join(chunks) == b"".join(f"line {i}\n".encode() for i in range(5))
    assert response.headers["cache-control"] == "no-store"
    _assert_security_headers(response)


async def _handshake(app: ASGIApp, origin: str | None) -> list[Message]:
    headers = [(b"host", b"127.0.0.1:8000")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "scheme": "ws",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
    }
    inbound: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbound.pop(0) if inbound else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("origin", "accepted"),
    [(None, True), (UI, True), ("http://127.0.0.1:8000", True), (EVIL, False), ("null", False)],
)
async def test_websockets_work_through_the_stack_and_foreign_origins_are_refused(
    origin: str | None, accepted: bool
) -> None:
    app, _ = _app()
    sent = await _handshake(app, origin)
    if accepted:
        assert [m["type"] for m in sent] == [
            "websocket.accept",
            "websocket.send",
            "websocket.close",
        ]
        assert sent[1]["text"] == "hello"
    else:
        assert sent == [{"type": "websocket.close", "code": 1008, "reason": "origin"}]


@pytest.mark.asyncio
async def test_rate_limit_answers_carry_cors_and_security_headers() -> None:
    app, _ = _app(rate_limiter=RateLimiter(ip_limit="1/minute"))
    async with _client(app) as client:
        assert (await client.get("/api/v1/things", headers={"Origin": UI})).status_code == 200
        limited = await client.get("/api/v1/things", headers={"Origin": UI})
    assert limited.status_code == 429
    assert limited.headers["access-control-allow-origin"] == UI
    assert int(limited.headers["retry-after"]) >= 1
    _assert_security_headers(limited)


@pytest.mark.parametrize("origin", ["*", "127.0.0.1:8000", "ftp://x.example"])
def test_a_wildcard_or_malformed_origin_is_refused(origin: str) -> None:
    with pytest.raises(ConfigError, match="must be an exact"):
        install_security(FastAPI(), cors_origins=[origin], max_body_bytes=LIMIT)
