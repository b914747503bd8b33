"""RedisLease on real Redis: one holder at a time, only the holder renews or releases, and a
holder that stops renewing loses the lease to the one waiting."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from grekko.adapters.redis import RedisLease
from integration.adapters.redis.redis_support import purge, reachable_redis_url

pytestmark = pytest.mark.asyncio


async def test_one_holder_at_a_time_and_a_standby_takes_over() -> None:
    url = reachable_redis_url()
    key = f"test:lease:{uuid.uuid4().hex}"
    first, second = RedisLease(url, key, ttl_ms=600), RedisLease(url, key, ttl_ms=600)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert not await second.renew(), "only the holder renews"
        lost: list[bool] = []
        keeper = asyncio.create_task(first.keep(lambda: lost.append(True)))
        await asyncio.sleep(1.5)  # more than two TTLs: renewed all along
        assert not await second.try_acquire()
        assert lost == []
        keeper.cancel()  # the holder hangs: it renews no more
        waiting = asyncio.create_task(second.acquire(poll_s=0.05))
        await asyncio.wait_for(waiting, timeout=3)
        assert second.held
        assert not await first.renew(), "the old holder has lost it"
        await second.release()
        third = RedisLease(url, key, ttl_ms=600)
        assert await third.try_acquire(), "released, free at once"
        await third.release()
    finally:
        await first.release()
        purge(url, key)
