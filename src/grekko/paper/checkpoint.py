"""The replay cursor: which bar the session was processing, saved before it is processed.

On restart every bar up to and including the saved one is history (warm-up): a decision that was
being made when the process died is not made a second time. That is the at-most-once half of crash
safety; the event store (orders stored before a venue sees them) is the other half.
"""

from __future__ import annotations

import msgspec

from grekko.core.errors import ConfigError
from grekko.ports.event_store import EventStore, Snapshot

CURSOR_STREAM = "replay-cursor"


class ReplayCursor(msgspec.Struct, frozen=True):
    index: int  # 0-based place of the bar in the merged replay
    ts_event: int  # that bar's close, ns: the session's time when it was processed
    replay: str  # fingerprint of the replay the index belongs to
    # the risk breakers' watermarks, so a restart cannot reset a drawdown or a day's loss
    peak_equity: float = 0.0
    day_start_equity: float = 0.0
    next_day_ns: int = 0


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ReplayCursor)


def decode_cursor(snapshot: Snapshot) -> ReplayCursor:
    return _decoder.decode(snapshot.state)


class CursorStore:
    """Saves and loads the cursor as the store's snapshot of the `replay-cursor` stream."""

    def __init__(self, store: EventStore, replay_fingerprint: str) -> None:
        self._store = store
        self._replay = replay_fingerprint

    def load(self) -> ReplayCursor | None:
        snapshot = self._store.load_snapshot(CURSOR_STREAM)
        if snapshot is None:
            return None
        try:
            cursor = decode_cursor(snapshot)
        except msgspec.DecodeError as exc:
            raise ConfigError(f"the stored replay cursor is unreadable: {exc}") from exc
        if cursor.replay != self._replay:
            raise ConfigError(
                "this database holds a paper session that replayed different data; "
                "use another --data-dir (or database_url) for a new replay"
            )
        return cursor

    def save(self, index: int, ts_event: int, watermarks: tuple[float, float, int]) -> None:
        peak, day_start, next_day = watermarks
        state = _encoder.encode(
            ReplayCursor(index, ts_event, self._replay, peak, day_start, next_day)
        )
        self._store.save_snapshot(Snapshot(CURSOR_STREAM, index, state))
