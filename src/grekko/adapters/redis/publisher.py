"""The bounded publish buffer and the background task that ships it to Redis with XADD.

Producers are trading loops: they must never wait on the network. So publish only appends to a
deque; one writer task drains it in pipelined batches. The bound counts the batch the writer holds
too, otherwise a Redis outage would let the buffer grow by one batch per retry. A failed batch is
retried whole, with backoff; a retry after a connection dropped mid-pipeline may store some entries
twice, which consumers absorb through their idempotency by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from redis.asyncio import Redis

from grekko.ports.streams import BusBackpressure, BusClosed

log = logging.getLogger("grekko.adapters.redis.publisher")

WRITE_BATCH = 512
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 2.0

Entry = tuple[str, dict[bytes, bytes]]


class BufferedWriter:
    def __init__(self, client: Redis, *, capacity: int, stream_maxlen: int) -> None:
        if capacity < 1:
            raise ValueError("publish buffer capacity must be >= 1")
        self._client = client
        self._capacity = capacity
        self._maxlen = stream_maxlen
        self._buffer: deque[Entry] = deque()
        self._inflight = 0
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.accepted = 0
        self.refused = 0
        self.written = 0
        self.write_errors = 0

    def put(self, stream: str, fields: dict[bytes, bytes]) -> None:
        if self._closed:
            raise BusClosed("the stream bus is closed")
        if len(self._buffer) + self._inflight >= self._capacity:
            self.refused += 1
            raise BusBackpressure(
                f"publish buffer full ({self._capacity} messages waiting for Redis); "
                f"message for {stream!r} not queued"
            )
        if self._task is None:  # RuntimeError outside a running event loop, before queueing
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="grekko-redis-stream-writer"
            )
        self._buffer.append((stream, fields))
        self.accepted += 1
        self._drained.clear()
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._buffer) + self._inflight

    async def flush(self) -> None:
        await self._drained.wait()

    async def close(self, timeout_s: float) -> int:
        """Stop accepting, drain for at most timeout_s; returns how many messages were dropped."""
        self._closed = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout_s)
        dropped = self.pending
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])  # unlike `await task`, keeps a cancel of close() apart
        if dropped:
            log.error("stream bus closed with %d unpublished messages dropped", dropped)
        self._buffer.clear()
        self._inflight = 0
        self._drained.set()
        return dropped

    async def _run(self) -> None:
        while True:
            if not self._buffer:
                self._drained.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            size = min(len(self._buffer), WRITE_BATCH)
            batch = [self._buffer.popleft() for _ in range(size)]
            self._inflight = size
            await self._write(batch)
            self._inflight = 0

    async def _write(self, batch: list[Entry]) -> None:
        delay = BACKOFF_MIN_S
        while True:
            try:
                pipe = self._client.pipeline(transaction=False)
                for stream, fields in batch:
                    pipe.xadd(stream, _fields(fields), maxlen=self._maxlen, approximate=True)
                await pipe.execute()
            except Exception as exc:  # the writer must outlive any one failure
                self.write_errors += 1
                if self.write_errors == 1 or self.write_errors % 100 == 0:
                    log.warning(
                        "stream write of %d messages failed (%s, %d failures so far); retrying",
                        len(batch),
                        type(exc).__name__,
                        self.write_errors,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
            else:
                self.written += len(batch)
                return


def _fields(fields: dict[bytes, bytes]) -> Any:
    """redis-py's xadd annotation is invariant in its key type; bytes keys are what it sends."""
    return fields
