"""EventStore port: append-only streams with optimistic concurrency, global order, snapshots."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, get_args

import msgspec

from grekko.core.errors import ConcurrencyError, DataError
from grekko.domain.events import Event, StoredEvent

ANY_VERSION = -1  # expected_version that skips the concurrency check
STORABLE_EVENT_TYPES: frozenset[type] = frozenset(get_args(StoredEvent))
MAX_STREAM_ID_LENGTH = 200  # the SQL column width: every store accepts the same ids


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


# ---- the contract's input rules, shared by every store so they all refuse the same things ----
def not_storable(event: Event) -> DataError:
    return DataError(
        f"{type(event).__name__} is not a stored event type "
        "(PositionChanged and other projections are never stored)"
    )


def check_storable(events: Sequence[Event]) -> None:
    for event in events:
        if type(event) not in STORABLE_EVENT_TYPES:
            raise not_storable(event)


def check_stream_id(stream_id: str) -> None:
    if not isinstance(stream_id, str) or not 0 < len(stream_id) <= MAX_STREAM_ID_LENGTH:
        raise DataError(
            f"stream_id must be a string of 1..{MAX_STREAM_ID_LENGTH} characters, got {stream_id!r}"
        )


def check_start(start: int, name: str) -> None:
    if start < 1:
        raise DataError(f"{name} is 1-based, got {start}")


def version_error(stream_id: str, expected: int, current: int) -> Exception:
    if expected < ANY_VERSION:
        return DataError(f"expected_version must be >= {ANY_VERSION}, got {expected}")
    return ConcurrencyError(
        f"stream {stream_id!r} is at version {current}, the append expected {expected}"
    )
