"""RedisStreamsBus on a real Redis: delivery, sharing in a group, acks, idempotency, dead letters."""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from redis_bus_support import (
    MakeBus,
    all_acked,
    bar,
    consuming,
    entries,
    fill,
    pending_count,
    wait_until,
)

from grekko.adapters.redis import MessageCodec
from grekko.domain.data import Bar
from grekko.ports.streams import Delivery


@pytest.mark.asyncio
async def test_domain_events_round_trip_through_publish_and_consume(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    bus = make_bus()
    fills, bars = f"{prefix}:fills", f"{prefix}:bars"
    sent = {f"fill-{i}": fill(i) for i in range(3)} | {f"bar-{i}": bar(i) for i in range(3)}
    for event_id, message in sent.items():
        bus.publish(fills if event_id.startswith("fill") else bars, message, event_id=event_id)
    await bus.flush()

    got: list[Delivery] = []
    async with consuming(bus, [fills, bars], "portfolio", "p-1", got.append):
        await wait_until(lambda: len(got) == len(sent), "six deliveries")

    assert {d.event_id: d.message for d in got} == sent
    assert {(d.event_id, d.type_name, d.attempts) for d in got} == {
        (eid, type(m).__name__, 1) for eid, m in sent.items()
    }
    assert all(d.stream == (fills if d.event_id.startswith("fill") else bars) for d in got)
    assert [d.message.last_px for d in got if d.event_id.startswith("fill")] == [
        m.last_px for eid, m in sent.items() if eid.startswith("fill")
    ]  # Decimal survives msgpack exactly, in publish order per stream
    assert await pending_count(redis_url, fills, "portfolio") == 0
    stats = bus.stats()
    assert (stats.published, stats.written, stats.handled) == (6, 6, 6)


@pytest.mark.asyncio
async def test_two_consumers_of_one_group_share_the_entries_each_handled_once(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    stream = f"{prefix}:orders"
    producer, bus_a, bus_b = make_bus(), make_bus(), make_bus()
    await producer.ensure_group(stream, "risk")
    handled: list[tuple[str, str]] = []

    def recorder(name: str) -> Callable[[Delivery], Awaitable[None]]:
        async def handle(delivery: Delivery) -> None:
            await asyncio.sleep(
                0.002
            )  # a handler with some I/O, so no one consumer hogs the stream
            handled.append((name, delivery.event_id))

        return handle

    async with (
        consuming(bus_a, stream, "risk", "risk-a", recorder("a"), batch=10),
        consuming(bus_b, stream, "risk", "risk-b", recorder("b"), batch=10),
    ):
        for i in range(200):
            producer.publish(stream, fill(i), event_id=f"e{i}")
        await producer.flush()
        await wait_until(lambda: len(handled) >= 200, "200 handled entries")

    ids = [event_id for _, event_id in handled]
    assert sorted(ids) == sorted(f"e{i}" for i in range(200))
    assert len(set(ids)) == 200  # nobody handled an entry twice
    per_consumer = collections.Counter(name for name, _ in handled)
    assert per_consumer["a"] > 0, per_consumer
    assert per_consumer["b"] > 0, per_consumer
    assert await pending_count(redis_url, stream, "risk") == 0
    assert bus_a.stats().handled + bus_b.stats().handled == 200


@pytest.mark.asyncio
async def test_an_entry_is_acked_only_after_its_handler_succeeded(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    stream = f"{prefix}:fills"
    bus = make_bus(claim_idle_ms=300, max_attempts=3)
    calls: list[tuple[str, int]] = []

    def flaky(delivery: Delivery) -> None:  # a sync handler
        calls.append((delivery.event_id, delivery.attempts))
        if delivery.event_id == "f1" and delivery.attempts == 1:
            raise ConnectionError("the read model's database blinked")

    for i in range(3):
        bus.publish(stream, fill(i), event_id=f"f{i}")
    await bus.flush()
    async with consuming(bus, stream, "ledger", "ledger-1", flaky):
        await wait_until(lambda: len(calls) >= 3, "first deliveries")
        client = aioredis.Redis.from_url(redis_url)
        try:
            rows = await client.xpending_range(stream, "ledger", "-", "+", 10)
        finally:
            await client.aclose()
        assert [(r["consumer"], r["times_delivered"]) for r in rows] == [(b"ledger-1", 1)]
        await wait_until(lambda: ("f1", 2) in calls, "the retry after claim_idle_ms")
        await wait_until(lambda: all_acked(redis_url, stream, "ledger"), "the retried ack")

    assert sorted(calls) == [("f0", 1), ("f1", 1), ("f1", 2), ("f2", 1)]
    stats = bus.stats()
    assert (stats.handled, stats.failures, stats.dead_lettered) == (3, 1, 0)


@pytest.mark.asyncio
async def test_a_republished_event_id_is_acked_without_a_second_call(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    stream = f"{prefix}:fills"
    publisher, first, later = make_bus(), make_bus(), make_bus()
    calls: list[str] = []
    publisher.publish(stream, fill(1), event_id="fill-1")
    await publisher.flush()
    async with consuming(first, stream, "portfolio", "p-1", lambda d: calls.append(d.event_id)):
        await wait_until(lambda: calls == ["fill-1"], "the first delivery")
    # the publisher retried (it never saw its first XADD succeed): same event id, new entries
    publisher.publish(stream, fill(1), event_id="fill-1")
    publisher.publish(stream, fill(1), event_id="fill-1")
    publisher.publish(stream, fill(2), event_id="fill-2")
    await publisher.flush()
    async with consuming(later, stream, "portfolio", "p-2", lambda d: calls.append(d.event_id)):
        await wait_until(lambda: later.stats().duplicates == 2, "two duplicates acked")
        await wait_until(lambda: "fill-2" in calls, "the new event")

    assert calls == ["fill-1", "fill-2"]
    assert len(await entries(redis_url, stream)) == 4
    assert await pending_count(redis_url, stream, "portfolio") == 0
    other: list[str] = []  # idempotency is per group: another group sees every entry
    async with consuming(later, stream, "audit", "a-1", lambda d: other.append(d.event_id)):
        await wait_until(lambda: len(other) == 2, "the audit group's deliveries")
    assert other == ["fill-1", "fill-2"]


@pytest.mark.asyncio
async def test_a_poison_message_goes_to_the_dead_letter_stream_after_max_attempts(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    stream = f"{prefix}:fills"
    bus = make_bus(claim_idle_ms=200, max_attempts=3)
    attempts: list[int] = []
    good: list[str] = []

    def handler(delivery: Delivery) -> None:
        if delivery.event_id == "poison":
            attempts.append(delivery.attempts)
            raise ValueError("quantity precision 1e-12 is not tradable")
        good.append(delivery.event_id)

    bus.publish(stream, fill(1), event_id="ok-1")
    bus.publish(stream, fill(2), event_id="poison")
    bus.publish(stream, fill(3), event_id="ok-2")
    await bus.flush()
    async with consuming(bus, stream, "execution", "x-1", handler):
        await wait_until(lambda: bus.stats().dead_lettered == 1, "the dead letter")

    assert attempts == [1, 2, 3]
    assert good == ["ok-1", "ok-2"]
    assert await pending_count(redis_url, stream, "execution") == 0
    [(_, dead)] = await entries(redis_url, stream + ".dead")
    assert dead[b"event_id"] == b"poison"
    assert dead[b"dead_error"] == b"ValueError: quantity precision 1e-12 is not tradable"
    assert (dead[b"dead_attempts"], dead[b"dead_group"], dead[b"dead_consumer"]) == (
        b"3",
        b"execution",
        b"x-1",
    )
    _, event_id, message = MessageCodec.default().decode(dead)  # nothing of it was lost
    assert (event_id, message) == ("poison", fill(2))


@pytest.mark.asyncio
async def test_an_entry_of_an_unknown_type_is_dead_lettered_at_once(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    stream = f"{prefix}:mixed"
    newer_publisher = make_bus()  # knows OrderFilled; this consumer's codec knows only Bar
    older_consumer = make_bus(codec=MessageCodec([Bar]))
    newer_publisher.publish(stream, fill(7), event_id="fill-7")
    newer_publisher.publish(stream, bar(7), event_id="bar-7")
    await newer_publisher.flush()
    seen: list[str] = []
    async with consuming(
        older_consumer, stream, "charts", "c-1", lambda d: seen.append(d.event_id)
    ):
        await wait_until(lambda: seen == ["bar-7"], "the bar")
        await wait_until(lambda: older_consumer.stats().dead_lettered == 1, "the dead letter")

    [(_, dead)] = await entries(redis_url, stream + ".dead")
    assert dead[b"type"] == b"OrderFilled"
    assert dead[b"dead_attempts"] == b"1"
    assert b"UnknownMessageType" in dead[b"dead_error"]
    assert b"'OrderFilled'" in dead[b"dead_error"]
    assert MessageCodec.default().decode(dead)[2] == fill(7)
    assert await pending_count(redis_url, stream, "charts") == 0


@pytest.mark.asyncio
async def test_a_consumer_outlives_redis_errors_and_a_deleted_stream(
    make_bus: MakeBus, prefix: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    stream = f"{prefix}:fills"
    nowhere = make_bus(url=f"redis://127.0.0.1:{_closed_port()}/0")
    with caplog.at_level(logging.WARNING, logger="grekko.adapters.redis.consumer"):
        async with consuming(nowhere, stream, "g", "c", lambda d: None) as task:
            await wait_until(lambda: "Redis failed (ConnectionError)" in caplog.text, "a retry")
            assert not task.done()  # retrying, not raised

    bus = make_bus()
    seen: list[str] = []
    async with consuming(bus, stream, "g", "c", lambda d: seen.append(d.event_id)):
        bus.publish(stream, fill(1), event_id="before")
        await wait_until(lambda: seen == ["before"], "the first entry")
        client = aioredis.Redis.from_url(redis_url)
        await client.delete(stream)  # the group goes with it: NOGROUP until it is made again
        await client.aclose()
        await wait_until(lambda: _has_group(redis_url, stream), "the group made again")
        bus.publish(stream, fill(2), event_id="after")
        await wait_until(lambda: seen == ["before", "after"], "the entry after")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _has_group(url: str, stream: str) -> bool:
    client = aioredis.Redis.from_url(url)
    try:
        return bool(await client.exists(stream)) and bool(await client.xinfo_groups(stream))
    finally:
        await client.aclose()
