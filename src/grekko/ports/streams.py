"""StreamBus port: durable, at-least-once messaging between Grekko processes.

The in-process `MessageBus` calls handlers synchronously and forgets a message once they return;
that cannot survive a process boundary or a crash. A StreamBus keeps each stream's messages until
a consumer group has acknowledged them, so when `grekko serve risk` dies mid-message, another risk
process of the same group takes the message over. The promises every adapter keeps:

- `publish` never blocks the caller: it validates and encodes the message, queues it in a bounded
  local buffer and returns; a background writer ships the buffer. A full buffer (the store is down
  or slower than the producer) raises `BusBackpressure` at once, so the producer decides what to
  shed instead of stalling a trading loop.
- Within a group each entry goes to one consumer and is acknowledged only after its handler
  returned. A handler that raises is retried, up to `max_attempts` deliveries, then the entry moves
  to the dead-letter stream `<stream>.dead` with the error; undecodable entries go there at once.
- Handling is idempotent by `event_id`, per group: an entry whose event id the group already
  handled (a publisher retry, a redelivery) is acknowledged without calling the handler again.
  An effect a handler made before its process died is not undone, so a handler whose effects
  live outside the bus's store should make them idempotent by `delivery.event_id` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import msgspec

from grekko.core.errors import DataError, GrekkoError

DEAD_LETTER_SUFFIX = ".dead"


class BusBackpressure(GrekkoError):
    """The publish buffer is full: the message was not queued. The caller sheds or retries later."""


class BusClosed(GrekkoError):
    """A publish after `close()`."""


class UnknownMessageType(DataError):
    """A message type the codec has no registration for (on publish), or an entry naming one."""


class Delivery(msgspec.Struct, frozen=True):
    """One stream entry as handed to a handler."""

    stream: str
    entry_id: str  # the store's id of the entry ("1718000000000-0" in Redis)
    event_id: str  # the publisher's id: the idempotency key
    type_name: str  # the message's struct class name
    message: msgspec.Struct
    attempts: int  # 1 on first delivery; counts deliveries to dead consumers too


class StreamBusStats(msgspec.Struct, frozen=True):
    """Counters since the bus was built, for metrics and tests."""

    published: int = 0  # accepted into the buffer
    backpressure: int = 0  # refused with BusBackpressure
    written: int = 0  # stored by the writer
    write_errors: int = 0  # failed writes of a batch (retried)
    handled: int = 0  # handler returned, entry acknowledged
    duplicates: int = 0  # acknowledged without a call: event id already handled
    failures: int = 0  # handler raised
    dead_lettered: int = 0
    reclaimed: int = 0  # entries taken over from an idle (dead or stuck) consumer


StreamHandler = Callable[[Delivery], Awaitable[None] | None]


class StreamBus(Protocol):
    def publish(self, stream: str, message: msgspec.Struct, *, event_id: str) -> None:
        """Queue a message; returns at once. Call from the event loop's thread.

        Raises BusBackpressure when the buffer is full, UnknownMessageType when the message's
        type is not registered with the codec, BusClosed after close().
        """
        ...

    async def flush(self) -> None:
        """Wait until every message published so far is stored (or close() gave up on it)."""
        ...

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create the group (and the stream) if missing; it starts at the stream's oldest entry.

        Creating groups before publishers start means no message is published unseen by them.
        """
        ...

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
        """Handle the group's entries as `consumer` until `stop` is set (noticed within block_ms).

        Also takes over entries other consumers of the group left unacknowledged for longer than
        the bus's claim idle time. `handler` may be sync or async; it must finish well within the
        claim idle time, or another consumer may take its entry over while it runs. Handler errors
        never leave this method; store errors are logged and retried.
        """
        ...

    def stats(self) -> StreamBusStats: ...

    async def close(self, *, timeout_s: float = 5.0) -> None:
        """Flush for at most timeout_s (messages still buffered then are dropped and logged),
        stop the writer and close the connections."""
        ...
