"""Helpers for the stream bus tests: real domain messages, a consumer run as a task, polling waits."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

from grekko.adapters.redis import RedisStreamsBus
from grekko.domain.data import Bar
from grekko.domain.enums import LiquiditySide, OrderSide
from grekko.domain.events import OrderFilled
from grekko.ports.streams import StreamHandler

MakeBus = Callable[..., RedisStreamsBus]  # the make_bus fixture: RedisStreamsBus(**options)
T0 = 1_704_067_200_000_000_000


def fill(i: int) -> OrderFilled:
    return OrderFilled(
        ts_event=T0 + i,
        client_order_id=f"O-{i}",
        venue_order_id=f"V-{i}",
        trade_id=f"T-{i}",
        instrument_id="BTC/USDT",
        strategy_id="sma_cross",
        side=OrderSide.BUY if i % 2 else OrderSide.SELL,
        last_qty=Decimal("0.00012345"),
        last_px=Decimal("42123.45") + i,
        fee=Decimal("0.0052"),
        fee_currency="USDT",
        liquidity=LiquiditySide.TAKER,
    )


def bar(i: int) -> Bar:
    close = 42_000.0 + i * 0.5
    return Bar(
        "ETH/USDT", close - 1, close + 2, close - 3, close, 12.5 + i, T0 + i * 60, T0 + (i + 1) * 60
    )


async def wait_until(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> None:
    """Poll check() (sync or async) until truthy; a generous bound so a slow machine only waits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def consuming(
    bus: RedisStreamsBus,
    streams: str | list[str],
    group: str,
    consumer: str,
    handler: StreamHandler,
    **options: Any,
) -> AsyncIterator[asyncio.Task[None]]:
    """bus.consume(...) running as a task for the block; stopped and awaited after it."""
    stop = asyncio.Event()
    options.setdefault("block_ms", 50)
    task = asyncio.create_task(bus.consume(streams, group, consumer, handler, stop=stop, **options))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def pending_count(url: str, stream: str, group: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        summary = await client.xpending(stream, group)
        return int(summary["pending"])
    finally:
        await client.aclose()


async def entries(url: str, stream: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    client = aioredis.Redis.from_url(url)
    try:
        return list(await client.xrange(stream))
    finally:
        await client.aclose()


async def all_acked(url: str, stream: str, group: str) -> bool:
    return await pending_count(url, stream, group) == 0
