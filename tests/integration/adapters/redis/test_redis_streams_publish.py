"""The publish side: a bounded buffer that refuses at once instead of blocking, and clear errors."""

from __future__ import annotations

import logging
import socket

import msgspec
import pytest
from redis_bus_support import MakeBus, entries, fill, wait_until

from grekko.core.errors import DataError
from grekko.ports.streams import BusBackpressure, BusClosed, UnknownMessageType


def _closed_port() -> int:
    """A local port nothing listens on: connections are refused, as by a Redis that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.asyncio
async def test_a_full_buffer_raises_backpressure_at_once_and_recovers_after_flush(
    make_bus: MakeBus, prefix: str, redis_url: str
) -> None:
    stream = f"{prefix}:bars"
    bus = make_bus(publish_buffer=3)
    for i in range(3):  # no await in between: the writer task has had no chance to drain
        bus.publish(stream, fill(i), event_id=f"e{i}")
    with pytest.raises(BusBackpressure, match="publish buffer full"):
        bus.publish(stream, fill(3), event_id="e3")
    assert (bus.stats().published, bus.stats().backpressure) == (3, 1)

    await bus.flush()
    assert [f[b"event_id"] for _, f in await entries(redis_url, stream)] == [b"e0", b"e1", b"e2"]
    bus.publish(stream, fill(3), event_id="e3")  # room again
    await bus.flush()
    assert len(await entries(redis_url, stream)) == 4
    assert bus.stats().written == 4


@pytest.mark.asyncio
async def test_with_redis_down_publish_never_blocks_and_close_reports_the_dropped(
    make_bus: MakeBus, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = make_bus(url=f"redis://127.0.0.1:{_closed_port()}/0", publish_buffer=5)
    for i in range(5):
        bus.publish(f"{prefix}:fills", fill(i), event_id=f"e{i}")
    # the writer holds the batch and retries it
    await wait_until(lambda: bus.stats().write_errors >= 2, "failed writes")
    with pytest.raises(BusBackpressure):  # the batch in the writer's hands still counts
        bus.publish(f"{prefix}:fills", fill(5), event_id="e5")

    with caplog.at_level(logging.ERROR, logger="grekko.adapters.redis.publisher"):
        await bus.close(timeout_s=0.1)
    assert "5 unpublished messages dropped" in caplog.text
    with pytest.raises(BusClosed):
        bus.publish(f"{prefix}:fills", fill(6), event_id="e6")
    assert bus.stats().written == 0


class NotOnTheBus(msgspec.Struct, frozen=True):
    value: int


@pytest.mark.asyncio
async def test_an_unregistered_type_or_an_empty_event_id_is_refused_at_publish(
    make_bus: MakeBus, prefix: str
) -> None:
    bus = make_bus()
    with pytest.raises(UnknownMessageType, match="NotOnTheBus is not registered"):
        bus.publish(f"{prefix}:x", NotOnTheBus(1), event_id="n-1")
    with pytest.raises(DataError, match="non-empty event_id"):
        bus.publish(f"{prefix}:x", fill(1), event_id="")
    assert bus.stats().published == 0
