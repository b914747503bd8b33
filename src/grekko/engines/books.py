"""BookManager: one L2 book per instrument, kept in sync with a venue's snapshot + diff stream.

Venues number their diffs, and a book built from diffs is only right if none was missed. The
procedure is Binance's documented one, which fits every venue with numbered diffs: buffer diffs
while a snapshot is on its way, apply the snapshot, drop the buffered diffs it already contains,
check that the first remaining one bridges it, then require every next diff to follow the one
before. When one does not (a gap), the book is marked out of sync, a new snapshot is requested,
and diffs are buffered again until it comes. Which diff may follow which differs by venue, so
that rule is a small injected `BookSequencer` (implemented next to the venue parsers in
adapters/feeds); this module never imports an adapter.

A snapshot always replaces the book: venues that push snapshots in-stream (Bybit) mean exactly
that, and for a REST snapshot it is the answer to our own request.

Every received message ends in exactly one counter: snapshots, applied, stale, rejected, crossed,
overflowed, or pending (still buffered); `stats()` exposes them with the gap and request counts.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from grekko.core.errors import DataError
from grekko.domain.order_book import (
    BookMessage,
    BookSnapshot,
    CrossedBook,
    DepthDiff,
    DepthSnapshot,
    OrderBook,
    check_level,
)
from grekko.engines.bus import MessageBus

log = logging.getLogger("grekko.books")


def book_topic(instrument_id: str) -> str:
    return f"data.books.{instrument_id}"


class SeqVerdict(StrEnum):
    APPLY = "apply"
    STALE = "stale"  # already contained in the book: drop it
    GAP = "gap"  # something is missing between the book and this diff: resync


class BookSequencer(Protocol):
    """A venue's rule for which diff may be applied to a book at a given sequence."""

    def check_first(self, snapshot_sequence: int, diff: DepthDiff) -> SeqVerdict:
        """The first diff after a snapshot: must it be dropped, applied, or is there a gap?"""
        ...

    def check_next(self, last_sequence: int, diff: DepthDiff) -> SeqVerdict:
        """A diff after the diff whose last id was last_sequence."""
        ...


class SnapshotsOnly:
    """For feeds that send whole books (ccxt keeps its own sequence): any diff is a gap."""

    def check_first(self, snapshot_sequence: int, diff: DepthDiff) -> SeqVerdict:
        return SeqVerdict.GAP

    def check_next(self, last_sequence: int, diff: DepthDiff) -> SeqVerdict:
        return SeqVerdict.GAP


class BookSyncState(StrEnum):
    SYNCING = "syncing"  # no snapshot yet
    LIVE = "live"
    RESYNC_NEEDED = "resync_needed"  # a gap or a crossed diff: waiting for a new snapshot


class _Track:
    __slots__ = ("book", "bridged", "pending", "requested", "state", "topic")

    def __init__(self, instrument_id: str) -> None:
        self.book = OrderBook(instrument_id)
        self.state = BookSyncState.SYNCING
        self.bridged = False  # a diff was applied since the last snapshot
        self.requested = False  # a snapshot request is outstanding
        self.pending: deque[DepthDiff] = deque()
        self.topic = book_topic(instrument_id)


_COUNTERS = (
    "received",
    "snapshots",
    "applied",
    "stale",
    "rejected",
    "crossed",
    "overflowed",
    "gaps",
    "resync_requests",
    "resyncs",
    "request_errors",
)


class BookManager:
    def __init__(
        self,
        bus: MessageBus,
        sequencer: BookSequencer,
        request_snapshot: Callable[[str], object],
        depth: int = 20,
        max_pending: int = 10_000,
        decoder: Callable[[bytes | str], BookMessage] | None = None,
    ) -> None:
        """request_snapshot(instrument_id) must only start the fetch; the snapshot comes back
        through on_message. decoder turns a raw venue payload into a message for on_raw."""
        if depth < 1 or max_pending < 1:
            raise ValueError("depth and max_pending must be >= 1")
        self._bus = bus
        self._sequencer = sequencer
        self._request_snapshot = request_snapshot
        self._decoder = decoder
        self.depth = depth
        self._max_pending = max_pending
        self._tracks: dict[str, _Track] = {}
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._requesting = False

    # ---- input -------------------------------------------------------------------------------
    def on_raw(self, payload: bytes | str) -> None:
        """Decode a venue payload and apply it; a payload the decoder refuses is counted as rejected."""
        if self._decoder is None:
            raise ValueError("BookManager.on_raw needs a decoder")
        try:
            message = self._decoder(payload)
        except DataError as exc:
            self._counts["received"] += 1
            self._counts["rejected"] += 1
            log.warning("book message rejected: %s", exc)
            return
        self.on_message(message)

    def on_message(self, message: BookMessage) -> None:
        self._counts["received"] += 1
        track = self._tracks.get(message.instrument_id)
        if track is None:
            track = self._tracks[message.instrument_id] = _Track(message.instrument_id)
        try:
            _validate(message)
        except DataError as exc:
            self._reject(track, message, exc)
            return
        if isinstance(message, DepthSnapshot):
            self._on_snapshot(track, message)
        else:
            self._on_diff(track, message)

    def resync(self, instrument_id: str) -> None:
        """Force a new snapshot, e.g. when one that was requested never came."""
        track = self._tracks.get(instrument_id)
        if track is None:
            track = self._tracks[instrument_id] = _Track(instrument_id)
        if track.state is BookSyncState.LIVE:
            track.state = BookSyncState.RESYNC_NEEDED
        track.requested = False
        self._request(track)

    # ---- queries -----------------------------------------------------------------------------
    def book(self, instrument_id: str) -> OrderBook | None:
        track = self._tracks.get(instrument_id)
        return None if track is None else track.book

    def state(self, instrument_id: str) -> BookSyncState | None:
        track = self._tracks.get(instrument_id)
        return None if track is None else track.state

    def instruments(self) -> tuple[str, ...]:
        return tuple(self._tracks)

    def stats(self) -> dict[str, int]:
        out = dict(self._counts)
        out["pending"] = sum(len(t.pending) for t in self._tracks.values())
        out["books"] = len(self._tracks)
        out["live"] = sum(t.state is BookSyncState.LIVE for t in self._tracks.values())
        return out

    # ---- internals ---------------------------------------------------------------------------
    def _reject(self, track: _Track, message: BookMessage, exc: DataError) -> None:
        self._counts["rejected"] += 1
        log.warning("book message rejected: %s", exc)
        if isinstance(message, DepthSnapshot) and track.state is not BookSyncState.LIVE:
            track.requested = False  # the snapshot we waited for is unusable: ask again
            self._request(track)

    def _on_snapshot(self, track: _Track, snap: DepthSnapshot) -> None:
        try:
            track.book.apply_snapshot(snap.bids, snap.asks, snap.sequence, snap.ts)
        except DataError as exc:
            self._reject(track, snap, exc)
            return
        self._counts["snapshots"] += 1
        if track.state is BookSyncState.RESYNC_NEEDED:
            self._counts["resyncs"] += 1
        track.state = BookSyncState.LIVE
        track.bridged = False
        track.requested = False
        while track.pending and track.state is BookSyncState.LIVE:
            self._advance(track, track.pending.popleft())
        if track.state is BookSyncState.LIVE:
            self._publish(track)

    def _on_diff(self, track: _Track, diff: DepthDiff) -> None:
        if track.state is not BookSyncState.LIVE:
            self._buffer(track, diff)
            if not track.requested:
                self._request(track)
            return
        if self._advance(track, diff):
            self._publish(track)

    def _advance(self, track: _Track, diff: DepthDiff) -> bool:
        """Apply one diff to a live book; True if the book changed. On a gap the diff is kept."""
        book = track.book
        if track.bridged:
            verdict = self._sequencer.check_next(book.sequence, diff)
        else:
            verdict = self._sequencer.check_first(book.sequence, diff)
        if verdict is SeqVerdict.STALE:
            self._counts["stale"] += 1
            return False
        if verdict is SeqVerdict.GAP:
            self._counts["gaps"] += 1
            log.warning(
                "%s: sequence gap at book %d, diff %d..%d (prev %s); resyncing",
                book.instrument_id,
                book.sequence,
                diff.first_id,
                diff.last_id,
                diff.prev_id,
            )
            track.pending.appendleft(diff)
            self._go_out_of_sync(track)
            return False
        try:
            book.apply_diff(diff.bids, diff.asks, diff.last_id, diff.ts)
        except CrossedBook as exc:
            self._counts["crossed"] += 1
            log.warning("%s; resyncing", exc)
            self._go_out_of_sync(track)
            return False
        self._counts["applied"] += 1
        track.bridged = True
        return True

    def _go_out_of_sync(self, track: _Track) -> None:
        track.state = BookSyncState.RESYNC_NEEDED
        track.requested = False
        self._request(track)

    def _buffer(self, track: _Track, diff: DepthDiff) -> None:
        if len(track.pending) >= self._max_pending:
            track.pending.popleft()
            self._counts["overflowed"] += 1
        track.pending.append(diff)

    def _request(self, track: _Track) -> None:
        """Ask for a snapshot once; a callback that answers synchronously cannot recurse here."""
        if track.requested or self._requesting:
            return
        self._requesting = True
        track.requested = True  # before the call: a synchronous answer clears it
        self._counts["resync_requests"] += 1
        try:
            self._request_snapshot(track.book.instrument_id)
        except Exception:
            track.requested = False
            self._counts["request_errors"] += 1
            log.exception("snapshot request for %s failed", track.book.instrument_id)
        finally:
            self._requesting = False

    def _publish(self, track: _Track) -> None:
        snapshot: BookSnapshot = track.book.snapshot(self.depth)
        self._bus.publish(track.topic, snapshot)


def _validate(message: BookMessage) -> None:
    for price, size in message.bids:
        check_level(price, size)
    for price, size in message.asks:
        check_level(price, size)
    if isinstance(message, DepthSnapshot):
        if message.sequence < 0:
            raise DataError(f"{message.instrument_id}: snapshot sequence {message.sequence} < 0")
        return
    if message.first_id < 0 or message.last_id < message.first_id:
        raise DataError(
            f"{message.instrument_id}: diff ids {message.first_id}..{message.last_id} out of order"
        )
