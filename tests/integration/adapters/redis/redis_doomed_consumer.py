"""A consumer process for the crash test: handles entries until it reaches `stall_on`, then hangs.

Run: python redis_doomed_consumer.py URL NAMESPACE STREAM GROUP CONSUMER CLAIM_IDLE_MS STALL_ON
Each handled event id is pushed to NAMESPACE:effects (the handler's effect). Before handling, the
event id goes to NAMESPACE:started, so the test knows when the process is inside the handler of
STALL_ON, where it sleeps until it is killed, its entry unacknowledged.
"""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis

from grekko.adapters.redis import RedisStreamsBus
from grekko.ports.streams import Delivery


async def main(
    url: str, namespace: str, stream: str, group: str, consumer: str, claim: int, stall_on: str
) -> None:
    bus = RedisStreamsBus(url, namespace=namespace, claim_idle_ms=claim)
    effects = aioredis.Redis.from_url(url)

    async def handle(delivery: Delivery) -> None:
        await effects.rpush(f"{namespace}:started", f"{consumer}:{delivery.event_id}")
        if delivery.event_id == stall_on:
            await asyncio.sleep(3600)
        await effects.rpush(f"{namespace}:effects", delivery.event_id)

    await bus.consume(stream, group, consumer, handle, stop=asyncio.Event(), batch=10, block_ms=100)


if __name__ == "__main__":
    url, namespace, stream, group, consumer, claim, stall_on = sys.argv[1:8]
    asyncio.run(main(url, namespace, stream, group, consumer, int(claim), stall_on))
