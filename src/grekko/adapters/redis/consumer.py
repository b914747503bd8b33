"""One consumer of one group: read, take over stale entries, handle once by event id, ack or retry.

Idempotency is a per-group key per event id that is first a short lease, `run:<consumer>`, taken
with SET NX before the handler runs, and then `done`, written atomically with the XACK. The
lease stops two consumers from running one event at once (a publisher retry put it in the stream
twice); it lasts 90 % of the claim idle time, so it is gone by the time a dead consumer's entries
are taken over, and no handler starts once its lease may have run out. An entry whose key
says `done` is acknowledged without a call; one whose key is another live lease stays pending and
comes back through XAUTOCLAIM. Retries ride on that same path: a failed entry is not acknowledged,
and its delivery count (XPENDING) grows with each takeover until it reaches max_attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from grekko.adapters.redis.codec import MessageCodec
from grekko.core.errors import DataError
from grekko.ports.streams import DEAD_LETTER_SUFFIX, Delivery, StreamHandler

log = logging.getLogger("grekko.adapters.redis.consumer")

DONE = b"done"
BACKOFF_MAX_S = 2.0
RELEASE_LUA = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
# `done` and the XACK together, atomically, in one command: the cheapest round trip redis-py has
DONE_LUA = "redis.call('SET', KEYS[1], 'done', 'EX', ARGV[3]) return redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])"

Item = tuple[bytes, Mapping[bytes, bytes], int]  # entry id, fields, delivery count


@dataclass(frozen=True, slots=True)
class ConsumerPolicy:
    namespace: str
    claim_idle_ms: int
    max_attempts: int
    idempotency_ttl_s: int


@dataclass(slots=True)
class ConsumerCounters:
    handled: int = 0
    duplicates: int = 0
    failures: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0


async def ensure_group(client: Redis, stream: str, group: str) -> None:
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class GroupConsumer:
    def __init__(
        self,
        client: Redis,
        codec: MessageCodec,
        policy: ConsumerPolicy,
        counters: ConsumerCounters,
        *,
        streams: Sequence[str],
        group: str,
        consumer: str,
        handler: StreamHandler,
        batch: int,
        block_ms: int,
    ) -> None:
        self._client = client
        self._codec = codec
        self._policy = policy
        self._counters = counters
        self._streams = tuple(streams)
        self._group = group
        self._consumer = consumer
        self._handler = handler
        self._batch = batch
        self._block_ms = block_ms
        self._lease_token = f"run:{consumer}".encode()
        self._done = client.register_script(DONE_LUA)
        self._claim_every_s = max(0.05, policy.claim_idle_ms / 2000)
        self._lease_ms = max(1, policy.claim_idle_ms * 9 // 10)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_claim, delay, groups_ready = 0.0, 0.05, False
        while not stop.is_set():
            try:
                if not groups_ready:
                    await self._ensure_groups()
                    groups_ready = True
                if loop.time() >= next_claim:
                    for stream in self._streams:
                        await self._reclaim(stream, stop)
                    next_claim = loop.time() + self._claim_every_s
                await self._read()
                delay = 0.05
            except (RedisError, OSError) as exc:
                log.warning(
                    "consumer %s of group %s: Redis failed (%s); retrying in %.2f s",
                    self._consumer,
                    self._group,
                    type(exc).__name__,
                    delay,
                )
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    groups_ready = False  # the stream was deleted under us
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    async def _ensure_groups(self) -> None:
        for stream in self._streams:
            await ensure_group(self._client, stream, self._group)

    async def _read(self) -> None:
        reply = await self._client.xreadgroup(
            self._group,
            self._consumer,
            dict.fromkeys(self._streams, ">"),
            count=self._batch,
            block=self._block_ms,
        )
        started = time.monotonic()
        for name, entries in _stream_entries(reply):
            items = [(eid, fields, 1) for eid, fields in entries if fields is not None]
            await self._process(_text(name), items, started)

    async def _reclaim(self, stream: str, stop: asyncio.Event) -> None:
        """Take over entries idle for claim_idle_ms: their consumer died, or their handler failed."""
        cursor: Any = "0-0"
        while True:
            reply = await self._client.xautoclaim(
                stream,
                self._group,
                self._consumer,
                min_idle_time=self._policy.claim_idle_ms,
                start_id=cursor,
                count=self._batch,
            )
            cursor, claimed = reply[0], [(eid, f) for eid, f in reply[1] if f is not None]
            if len(reply) > 2 and reply[2]:
                log.warning(
                    "%d pending entries of %s were trimmed unhandled", len(reply[2]), stream
                )
            if claimed:
                started = time.monotonic()
                self._counters.reclaimed += len(claimed)
                counts = await self._delivery_counts(stream, [eid for eid, _ in claimed])
                items = [(eid, f, n) for (eid, f), n in zip(claimed, counts, strict=True)]
                await self._process(stream, items, started)
            if _text(cursor) == "0-0" or stop.is_set():
                return

    async def _delivery_counts(self, stream: str, entry_ids: list[bytes]) -> list[int]:
        pipe = self._client.pipeline(transaction=False)
        for eid in entry_ids:
            pipe.xpending_range(stream, self._group, eid, eid, 1, self._consumer)
        replies = await pipe.execute()
        return [int(rows[0]["times_delivered"]) if rows else 1 for rows in replies]

    async def _process(self, stream: str, items: list[Item], started: float) -> None:
        deliveries: list[tuple[Delivery, Mapping[bytes, bytes]]] = []
        for eid, fields, attempts in items:
            try:
                name, event_id, message = self._codec.decode(fields)
            except DataError as exc:
                error = f"{type(exc).__name__}: {exc}"
                await self._dead_letter(stream, eid, fields, attempts, error, None)
                continue
            delivery = Delivery(stream, _text(eid), event_id, name, message, attempts)
            deliveries.append((delivery, fields))
        if not deliveries:
            return
        previous = await self._take_leases([d.event_id for d, _ in deliveries])
        lease_s = self._lease_ms / 1000
        done_here: dict[str, bool] = {}  # event id -> handled, for duplicates within the batch
        for (delivery, fields), held in zip(deliveries, previous, strict=True):
            key = self._key(delivery.event_id)
            if held == DONE or done_here.get(delivery.event_id):
                await self._ack(stream, delivery.entry_id)
                self._counters.duplicates += 1
            elif held is not None or delivery.event_id in done_here:
                continue  # another consumer is on this event now; it comes back if that one dies
            elif time.monotonic() - started > lease_s:
                await self._release(key)  # others may take this entry over already: leave it
            elif delivery.attempts > self._policy.max_attempts:
                error = f"delivered {delivery.attempts} times without an acknowledgement"
                await self._dead_letter(
                    stream, delivery.entry_id, fields, delivery.attempts, error, key
                )
                done_here[delivery.event_id] = False
            else:
                done_here[delivery.event_id] = await self._handle(delivery, fields, key)

    async def _take_leases(self, event_ids: list[str]) -> list[bytes | None]:
        pipe = self._client.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.set(
                self._key(event_id),
                self._lease_token,
                nx=True,
                px=self._lease_ms,
                get=True,
            )
        return list(await pipe.execute())

    async def _handle(self, delivery: Delivery, fields: Mapping[bytes, bytes], key: str) -> bool:
        try:
            result = self._handler(delivery)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            self._counters.failures += 1
            log.warning(
                "handler failed on %s entry %s event %s (attempt %d of %d): %s",
                delivery.stream,
                delivery.entry_id,
                delivery.event_id,
                delivery.attempts,
                self._policy.max_attempts,
                type(exc).__name__,
            )
            if delivery.attempts >= self._policy.max_attempts:
                error = f"{type(exc).__name__}: {exc}"
                await self._dead_letter(
                    delivery.stream, delivery.entry_id, fields, delivery.attempts, error, key
                )
            else:
                await self._release(key)
            return False
        await self._done(
            keys=[key, delivery.stream],
            args=[self._group, delivery.entry_id, self._policy.idempotency_ttl_s],
        )
        self._counters.handled += 1
        return True

    async def _dead_letter(
        self,
        stream: str,
        entry_id: bytes | str,
        fields: Mapping[bytes, bytes],
        attempts: int,
        error: str,
        key: str | None,
    ) -> None:
        """Park the entry in <stream>.dead (never trimmed: an operator reads and replays it)."""
        dead: dict[Any, Any] = {
            **fields,
            b"dead_error": error[:2000],
            b"dead_stream": stream,
            b"dead_entry_id": entry_id,
            b"dead_group": self._group,
            b"dead_consumer": self._consumer,
            b"dead_attempts": attempts,
        }
        pipe = self._client.pipeline(transaction=True)
        pipe.xadd(stream + DEAD_LETTER_SUFFIX, dead)
        pipe.xack(stream, self._group, entry_id)
        if key is not None:
            pipe.eval(RELEASE_LUA, 1, key, self._lease_token)
        await pipe.execute()
        self._counters.dead_lettered += 1
        log.error(  # the error's text stays in the entry: it may quote data not meant for logs
            "entry %s of %s moved to %s%s after %d attempts: %s",
            _text(entry_id),
            stream,
            stream,
            DEAD_LETTER_SUFFIX,
            attempts,
            error.partition(":")[0],
        )

    async def _ack(self, stream: str, entry_id: str) -> None:
        await self._client.xack(stream, self._group, entry_id)

    async def _release(self, key: str) -> None:
        await self._client.eval(RELEASE_LUA, 1, key, self._lease_token)

    def _key(self, event_id: str) -> str:
        return f"{self._policy.namespace}:bus:handled:{self._group}:{event_id}"


def _stream_entries(reply: Any) -> list[tuple[Any, list[tuple[bytes, Any]]]]:
    """XREADGROUP's RESP2 reply (the bus's clients speak RESP2) as (stream, entries) pairs."""
    return [(name, entries) for name, entries in reply or ()]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
