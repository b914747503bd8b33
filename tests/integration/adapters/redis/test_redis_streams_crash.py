"""A consumer process killed with SIGKILL mid-handler: a live consumer of its group takes its
pending entries over after claim_idle_ms, and every event has its effect exactly once."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis_bus_support import MakeBus, all_acked, consuming, fill, wait_until

from grekko.ports.streams import Delivery

DOOMED = Path(__file__).with_name("redis_doomed_consumer.py")
CLAIM_IDLE_MS = 500


@pytest.mark.slow
@pytest.mark.asyncio
async def test_entries_of_a_killed_consumer_are_reclaimed_and_handled_exactly_once(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    stream, group = f"{prefix}:fills", "portfolio"
    publisher = make_bus(claim_idle_ms=CLAIM_IDLE_MS)
    await publisher.ensure_group(stream, group)
    for i in range(20):
        publisher.publish(stream, fill(i), event_id=f"e{i}")
    for i in (1, 5, 15):  # publisher retries: the same events again, later in the stream
        publisher.publish(stream, fill(i), event_id=f"e{i}")
    await publisher.flush()

    client = aioredis.Redis.from_url(redis_url)
    try:
        await _kill_mid_handler(client, redis_url, prefix, stream, group, stall_on="e3")
        before = await client.lrange(f"{prefix}:effects", 0, -1)
        assert before == [b"e0", b"e1", b"e2"]  # handled and acked before it died
        [row] = [r for r in await client.xinfo_consumers(stream, group) if r["name"] == b"doomed"]
        assert row["pending"] == 7  # e3 (mid-handler) .. e9: its batch of 10, unacknowledged

        attempts: dict[str, int] = {}

        async def survivor_handler(delivery: Delivery) -> None:
            attempts[delivery.event_id] = delivery.attempts
            await client.rpush(f"{prefix}:effects", delivery.event_id)

        survivor = make_bus(claim_idle_ms=CLAIM_IDLE_MS)
        async with consuming(survivor, stream, group, "survivor", survivor_handler, batch=10):
            await wait_until(lambda: _length(client, f"{prefix}:effects", 20), "20 effects")
            await wait_until(lambda: all_acked(redis_url, stream, group), "every entry acked")
        effects = [e.decode() for e in await client.lrange(f"{prefix}:effects", 0, -1)]
    finally:
        await client.aclose()

    assert collections.Counter(effects) == collections.Counter(f"e{i}" for i in range(20))
    assert sorted(attempts) == sorted(f"e{i}" for i in range(3, 20))
    assert all(attempts[f"e{i}"] >= 2 for i in range(3, 10))  # the dead one's delivery counts
    assert all(attempts[f"e{i}"] == 1 for i in range(10, 20))
    stats = survivor.stats()
    assert stats.reclaimed >= 7  # + e5's retry, when it met the dead process's live lease
    assert stats.handled == 17
    assert stats.duplicates == 3  # 23 entries, 20 events: the retried e1, e5 and e15


async def _kill_mid_handler(
    client: aioredis.Redis, url: str, prefix: str, stream: str, group: str, stall_on: str
) -> None:
    """Start the doomed consumer process and SIGKILL it while it is inside stall_on's handler."""
    args = [url, prefix, stream, group, "doomed", str(CLAIM_IDLE_MS), stall_on]
    doomed = subprocess.Popen(
        [sys.executable, str(DOOMED), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        marker = f"doomed:{stall_on}".encode()
        await wait_until(
            lambda: _contains(client, f"{prefix}:started", marker), "the doomed handler", 60
        )
        os.kill(doomed.pid, signal.SIGKILL)
        assert doomed.wait(10) == -signal.SIGKILL
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)


async def _contains(client: aioredis.Redis, key: str, value: bytes) -> bool:
    return value in await client.lrange(key, 0, -1)


async def _length(client: aioredis.Redis, key: str, expected: int) -> bool:
    return await client.llen(key) >= expected
