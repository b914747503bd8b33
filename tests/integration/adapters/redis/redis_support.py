"""The test Redis (127.0.0.1:6379), or a skip with the reason it is not there; key cleanup by prefix."""

from __future__ import annotations

import os

import pytest
import redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def reachable_redis_url() -> str:
    url = os.environ.get("GREKKO_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis not reachable at {url} ({type(exc).__name__})")
    finally:
        client.close()
    return url


def keys_under(url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return list(client.scan_iter(match=prefix + "*", count=1000))
    finally:
        client.close()


def purge(url: str, prefix: str) -> None:
    """Delete every key a test made; each test names all its keys and streams under its prefix."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    finally:
        client.close()
