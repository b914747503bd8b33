"""RedisStreamsBus: the StreamBus port on Redis Streams and consumer groups.

Each stream is bounded with XADD MAXLEN ~ stream_maxlen, so a consumer group that stops consuming
costs bounded memory; the price is that entries older than the bound are trimmed, consumed or not.
Size the bound for the longest outage a group must ride out. Dead-letter streams are not trimmed.
Groups start at the stream's oldest retained entry, so a service that starts after its publishers
still sees what they published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
from redis.asyncio import Redis

from grekko.adapters.redis.codec import MessageCodec
from grekko.adapters.redis.consumer import (
    ConsumerCounters,
    ConsumerPolicy,
    GroupConsumer,
    ensure_group,
)
from grekko.adapters.redis.publisher import BufferedWriter
from grekko.core.errors import ConfigError
from grekko.ports.streams import StreamBusStats, StreamHandler


class RedisStreamsBus:
    """Publish to and consume from Redis Streams; one instance per process, on its event loop."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        codec: MessageCodec | None = None,
        namespace: str = "grekko",
        stream_maxlen: int = 100_000,
        publish_buffer: int = 10_000,
        claim_idle_ms: int = 30_000,
        max_attempts: int = 5,
        idempotency_ttl_s: int = 86_400,
    ) -> None:
        """namespace prefixes the bus's own keys (the idempotency records); streams are named
        by the caller."""
        _check_positive(
            stream_maxlen=stream_maxlen,
            publish_buffer=publish_buffer,
            claim_idle_ms=claim_idle_ms,
            max_attempts=max_attempts,
            idempotency_ttl_s=idempotency_ttl_s,
        )
        if not namespace:
            raise ConfigError("the stream bus namespace must not be empty")
        self._client = Redis.from_url(url, protocol=2, socket_connect_timeout=2)
        self.codec = codec if codec is not None else MessageCodec.default()
        self._writer = BufferedWriter(
            self._client, capacity=publish_buffer, stream_maxlen=stream_maxlen
        )
        self._policy = ConsumerPolicy(namespace, claim_idle_ms, max_attempts, idempotency_ttl_s)
        self._counters = ConsumerCounters()

    def publish(self, stream: str, message: msgspec.Struct, *, event_id: str) -> None:
        self._writer.put(stream, self.codec.encode(message, event_id))

    async def flush(self) -> None:
        await self._writer.flush()

    async def ensure_group(self, stream: str, group: str) -> None:
        await ensure_group(self._client, stream, group)

    async def consume(
        self,
        streams: str | Sequence[str],
        group: str,
        consumer: str,
        handler: StreamHandler,
        *,
        stop: asyncio.Event,
        batch: int = 100,
        block_ms: int = 1000,
    ) -> None:
        names = (streams,) if isinstance(streams, str) else tuple(streams)
        if not names or not group or not consumer:
            raise ConfigError("consume needs at least one stream, a group and a consumer name")
        _check_positive(batch=batch, block_ms=block_ms)  # BLOCK 0 would wait forever
        worker = GroupConsumer(
            self._client,
            self.codec,
            self._policy,
            self._counters,
            streams=names,
            group=group,
            consumer=consumer,
            handler=handler,
            batch=batch,
            block_ms=block_ms,
        )
        await worker.run(stop)

    def stats(self) -> StreamBusStats:
        writer, counters = self._writer, self._counters
        return StreamBusStats(
            published=writer.accepted,
            backpressure=writer.refused,
            written=writer.written,
            write_errors=writer.write_errors,
            handled=counters.handled,
            duplicates=counters.duplicates,
            failures=counters.failures,
            dead_lettered=counters.dead_lettered,
            reclaimed=counters.reclaimed,
        )

    async def close(self, *, timeout_s: float = 5.0) -> None:
        await self._writer.close(timeout_s)
        await self._client.aclose()


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ConfigError(f"stream bus {name} must be >= 1, got {value}")
