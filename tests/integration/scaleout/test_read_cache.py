"""Candles as a hot read model in Redis, shared by gateway replicas: two real platforms on one
Redis, the second answering from what the first computed. The key carries the time of the
instrument's last bar, so a hit is never stale."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis

from grekko.adapters.redis import RedisCache
from grekko.api.principal import Role
from integration.adapters.redis.redis_support import reachable_redis_url
from integration.api.platform_support import running_platform

pytestmark = pytest.mark.asyncio
QUERY = {"instrument_id": "BTC/USDT@paper", "timeframe": "1m", "limit": 50}


async def test_a_second_replica_answers_candles_from_the_shared_cache(tmp_path: Path) -> None:
    url = reachable_redis_url().rsplit("/", 1)[0] + "/13"
    redis.Redis.from_url(url).flushdb()
    try:
        async with (
            running_platform(tmp_path / "a", bars=300) as a,
            running_platform(tmp_path / "b", bars=300) as b,
        ):
            for h in (a, b):
                h.app.state.services.extra["read_cache"] = RedisCache(url, namespace="t:cache")
            await _settled(a, b)
            first = await a.client.get("/api/v1/candles", params=QUERY, headers=a.auth(Role.VIEWER))
            assert first.status_code == 200, first.text
            again = await b.client.get("/api/v1/candles", params=QUERY, headers=b.auth(Role.VIEWER))
            assert again.json() == first.json()
            assert len(first.json()) == 50
            stats_a = a.app.state.services.extra["read_cache_stats"]
            stats_b = b.app.state.services.extra["read_cache_stats"]
            assert (stats_a["misses"], stats_b["hits"], stats_b["misses"]) == (1, 1, 0)
            keys = sorted(k.decode() for k in redis.Redis.from_url(url).keys("t:cache:*"))
            last = a.platform.session.kernel.cache.last_bar["BTC/USDT@paper"].ts_event
            assert keys == [f"t:cache:candles:BTC/USDT@paper:1m:None:None:50:{last}"]
            for h in (a, b):
                await h.app.state.services.extra["read_cache"].close()
    finally:
        redis.Redis.from_url(url).flushdb()


async def _settled(*harnesses: object) -> None:
    """Both replays at their last bar, so both replicas see the same version of the candles."""
    for _ in range(600):
        if all(h.platform.session.progress().processed >= 300 for h in harnesses):  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replays did not finish")
