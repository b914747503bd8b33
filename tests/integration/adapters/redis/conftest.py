"""Real Redis for the Redis adapter's tests: a unique key prefix per test, purged afterwards.

Redis is the server at GREKKO_TEST_REDIS_URL (default 127.0.0.1:6379/0); the tests skip, saying
so, only when it cannot be reached.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from redis_bus_support import MakeBus
from redis_support import keys_under, purge, reachable_redis_url

from grekko.adapters.redis import RedisStreamsBus


@pytest.fixture(scope="session")
def redis_url() -> str:
    return reachable_redis_url()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """Every key and stream of one test starts with this; none is left behind."""
    key_prefix = f"grekko-test-{uuid.uuid4().hex[:12]}"
    yield key_prefix
    purge(redis_url, key_prefix)
    assert keys_under(redis_url, key_prefix) == []


@pytest_asyncio.fixture
async def make_bus(redis_url: str, prefix: str) -> AsyncIterator[MakeBus]:
    """Buses as separate processes would have them: each its own connections, one namespace."""
    buses: list[RedisStreamsBus] = []

    def make(**options: Any) -> RedisStreamsBus:
        bus = RedisStreamsBus(options.pop("url", redis_url), namespace=prefix, **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close(timeout_s=1.0)
