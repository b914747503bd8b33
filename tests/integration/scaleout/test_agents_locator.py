"""The gateway finds the agents' API where its current holder announced it in Redis: a standby
that takes partition 0 over announces itself, and the old holder's late shutdown does not
withdraw the new holder's announcement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from grekko.api.agents_proxy import AGENTS_API_KEY, AgentsLocator
from grekko.bootstrap.service_agents import (
    advertised_url,
    announce_agents_api,
    withdraw_agents_api,
)
from grekko.settings import Settings
from integration.adapters.redis.redis_support import reachable_redis_url

pytestmark = pytest.mark.asyncio
CONFIGURED = "http://grekko-agents-0.grekko-agents-pods:8002"


@pytest_asyncio.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(reachable_redis_url().rsplit("/", 1)[0] + "/14")
    await client.delete(AGENTS_API_KEY)
    try:
        yield client
    finally:
        await client.delete(AGENTS_API_KEY)
        await client.aclose()


def holder(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path, serve={"advertise_url": url})


async def test_the_gateway_follows_the_holder_of_the_agents_api(
    redis: Redis, tmp_path: Path
) -> None:
    async def announced() -> str | None:
        value = await redis.get(AGENTS_API_KEY)
        return value.decode() if value else None

    locator = AgentsLocator(CONFIGURED, announced, ttl_s=60)
    assert await locator.url() == CONFIGURED  # nobody announced yet: the configured address

    first = await announce_agents_api(redis, holder(tmp_path, "http://10.0.0.5:8002/"))
    assert first == "http://10.0.0.5:8002"
    assert await locator.url() == CONFIGURED  # read again only after ttl_s ...
    locator.forget()  # ... or once the last address did not answer
    assert await locator.url() == first

    second = await announce_agents_api(redis, holder(tmp_path, "http://10.0.0.9:8002"))
    await withdraw_agents_api(redis, first)  # the old holder stops after the takeover
    assert await redis.get(AGENTS_API_KEY) == second.encode()
    locator.forget()
    assert await locator.url() == second

    await withdraw_agents_api(redis, second)
    assert await redis.get(AGENTS_API_KEY) is None
    locator.forget()
    assert await locator.url() == second  # until a new holder announces itself


async def test_a_process_on_every_address_announces_its_host_name(tmp_path: Path) -> None:
    import socket

    settings = Settings(data_dir=tmp_path, host="0.0.0.0", port=8002)  # noqa: S104
    assert advertised_url(settings) == f"http://{socket.getfqdn()}:8002"
    local = Settings(data_dir=tmp_path, host="127.0.0.1", port=8002)
    assert advertised_url(local) == "http://127.0.0.1:8002"


async def test_redis_down_keeps_the_last_known_address() -> None:
    async def broken() -> str | None:
        raise ConnectionError("redis is down")

    locator = AgentsLocator(CONFIGURED, broken, ttl_s=0)
    assert await locator.url() == CONFIGURED
