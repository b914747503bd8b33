"""EventStore port: append-only streams with optimistic concurrency, global order, snapshots."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import msgspec

from grekko.domain.events import Event, StoredEvent

ANY_VERSION = -1  # expected_version that skips the concurrency check


class RecordedEvent(msgspec.Struct, frozen=True):
    """An event as stored: its place in its stream and in the global log."""

    global_position: int
    stream_id: str
    version: int  # 1-based position within the stream
    event: StoredEvent


class Snapshot(msgspec.Struct, frozen=True):
    stream_id: str
    version: int
    state: bytes  # opaque to the store; the owner encodes and decodes


class EventStore(Protocol):
    def append(
        self, stream_id: str, events: Sequence[Event], expected_version: int = ANY_VERSION
    ) -> int:
        """Append atomically; returns the stream's new version.

        Raises ConcurrencyError when expected_version (0 = new stream) is not the current one.
        """
        ...

    def read(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]: ...

    def read_all(self, from_position: int = 1) -> Iterator[RecordedEvent]:
        """Every stream, in global append order."""
        ...

    def stream_version(self, stream_id: str) -> int: ...

    def save_snapshot(self, snapshot: Snapshot) -> None: ...

    def load_snapshot(self, stream_id: str) -> Snapshot | None: ...

    def close(self) -> None: ...
