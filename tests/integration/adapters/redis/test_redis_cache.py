"""RedisCache on a real Redis: JSON values and structs with TTLs, namespaces, prefix invalidation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from redis_bus_support import fill, wait_until
from redis_support import keys_under

from grekko.adapters.redis import RedisCache
from grekko.core.errors import ConfigError
from grekko.domain.events import OrderFilled

MakeCache = Callable[..., RedisCache]


@pytest_asyncio.fixture
async def make_cache(redis_url: str, prefix: str) -> AsyncIterator[MakeCache]:
    caches: list[RedisCache] = []

    def make(name: str = "cache", **options: Any) -> RedisCache:
        cache = RedisCache(redis_url, namespace=f"{prefix}:{name}", **options)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        await cache.close()


@pytest.mark.asyncio
async def test_json_values_and_structs_round_trip_with_their_ttl(
    make_cache: MakeCache, prefix: str, redis_url: str
) -> None:
    cache = make_cache(default_ttl_s=30)
    positions = {"BTC/USDT": {"qty": "0.5", "avg_px": "42000.10"}, "updated": 17}
    await cache.set("positions:acct-1", positions)
    await cache.set("last-fill:acct-1", fill(3), ttl_s=5)
    await cache.set("cash:acct-1", {"USDT": Decimal("1000.25")})

    assert await cache.get("positions:acct-1") == positions
    assert await cache.get("last-fill:acct-1", OrderFilled) == fill(3)
    assert await cache.get("cash:acct-1") == {"USDT": "1000.25"}  # JSON: Decimal as its text
    assert await cache.get("missing") is None
    assert await cache.get("missing", OrderFilled) is None
    ttl_default, ttl_short = (
        await cache.ttl("positions:acct-1"),
        await cache.ttl("last-fill:acct-1"),
    )
    assert ttl_default is not None
    assert 5 < ttl_default <= 30
    assert ttl_short is not None
    assert 0 < ttl_short <= 5
    assert await cache.ttl("missing") is None
    assert sorted(keys_under(redis_url, prefix)) == sorted(
        f"{prefix}:cache:{k}".encode()
        for k in ("positions:acct-1", "last-fill:acct-1", "cash:acct-1")
    )


@pytest.mark.asyncio
async def test_entries_expire_and_can_be_deleted(make_cache: MakeCache) -> None:
    cache = make_cache()
    await cache.set("quote", {"bid": 1}, ttl_s=0.05)
    await cache.set("book", {"asks": []})
    await wait_until(lambda: _missing(cache, "quote"), "the quote to expire", 10)
    assert await cache.delete("book")
    assert not await cache.delete("book")
    assert await cache.get("book") is None
    with pytest.raises(ConfigError):
        await cache.set("bad", {}, ttl_s=0)


async def _missing(cache: RedisCache, key: str) -> bool:
    return await cache.get(key) is None


@pytest.mark.asyncio
async def test_invalidate_by_prefix_drops_only_that_prefix_in_that_namespace(
    make_cache: MakeCache,
) -> None:
    portfolio, other = make_cache("portfolio"), make_cache("orders")
    for account in ("acct-1", "acct-2"):
        for part in ("positions", "balances"):
            await portfolio.set(f"{account}:{part}", {"account": account})
    await portfolio.set("acct-10:positions", {"account": "acct-10"})
    await portfolio.set("acct-*:positions", {"odd": "a literal star"})
    await other.set("acct-1:positions", {"kept": True})

    assert await portfolio.invalidate_prefix("acct-1:") == 2
    assert await portfolio.get("acct-1:positions") is None
    assert await portfolio.get("acct-10:positions") == {"account": "acct-10"}
    assert await portfolio.invalidate_prefix("acct-*") == 1  # the star is a character, not a glob
    assert await portfolio.get("acct-2:balances") == {"account": "acct-2"}
    assert await other.get("acct-1:positions") == {"kept": True}  # another namespace
    assert await portfolio.invalidate_prefix("") == 3
    assert await other.get("acct-1:positions") == {"kept": True}


@pytest.mark.asyncio
async def test_two_instances_share_the_cache_like_two_api_replicas(make_cache: MakeCache) -> None:
    writer, reader = make_cache("shared"), make_cache("shared")
    await writer.set("summary", {"equity": "100000.00"})
    assert await reader.get("summary") == {"equity": "100000.00"}
    await reader.invalidate_prefix("sum")
    assert await writer.get("summary") is None
