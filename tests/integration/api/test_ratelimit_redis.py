"""Rate limits in the real Redis at 127.0.0.1:6379, shared by two limiters as by two API replicas.

Skips, saying so, when no Redis answers there. Keys use a unique prefix and are deleted after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import redis
from fastapi import FastAPI

from grekko.api.problems import install_problem_handlers
from grekko.api.ratelimit import RateLimiter, RateLimitMiddleware

REDIS_URL = os.environ.get("GREKKO_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__})")
    return client


def _keys(client: redis.Redis, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=f"{prefix}*"))


@pytest_asyncio.fixture
async def prefix() -> AsyncIterator[str]:
    client = _redis_or_skip()
    key_prefix = f"grekko-test-{uuid.uuid4().hex[:12]}"
    yield key_prefix
    for key in _keys(client, key_prefix):
        client.delete(key)
    assert _keys(client, key_prefix) == []
    client.close()


def _app(limiter: RateLimiter) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/v1/things")
    async def things() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.10", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.mark.asyncio
async def test_limits_are_counted_in_redis_and_shared_between_replicas(prefix: str) -> None:
    replica_a = RateLimiter(REDIS_URL, ip_limit="3/minute", key_prefix=prefix)
    replica_b = RateLimiter(REDIS_URL, ip_limit="3/minute", key_prefix=prefix)
    try:
        assert await replica_a.healthy()
        async with _client(_app(replica_a)) as a, _client(_app(replica_b)) as b:
            assert (await a.get("/api/v1/things")).status_code == 200
            assert (await b.get("/api/v1/things")).status_code == 200
            assert (await a.get("/api/v1/things")).status_code == 200
            refused = await b.get("/api/v1/things")
    finally:
        await replica_a.aclose()
        await replica_b.aclose()
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60

    client = _redis_or_skip()
    stored = _keys(client, prefix)
    client.close()
    assert stored, "the counters live in Redis under the test's prefix"
    assert all(b"198.51.100.10" in key for key in stored)


@pytest.mark.asyncio
async def test_reset_forgets_the_counters(prefix: str) -> None:
    limiter = RateLimiter(REDIS_URL, login_limit="1/minute", key_prefix=prefix)
    try:
        assert (await limiter.check(ip="198.51.100.11", login=True)).allowed
        refused = await limiter.check(ip="198.51.100.11", login=True)
        assert (refused.allowed, refused.limit) == (False, "login")
        await limiter.reset()
        client = _redis_or_skip()
        assert _keys(client, prefix) == []
        client.close()
        assert (await limiter.check(ip="198.51.100.11", login=True)).allowed
    finally:
        await limiter.aclose()
