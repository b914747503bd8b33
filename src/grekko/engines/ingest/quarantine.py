"""Rejected data: never published, never silently dropped.

Every rejection carries a stable reason code (`schema.price`, `spike`, `out_of_order` ...) so it
can be counted per stream and searched later; the record itself is kept (bounded in memory, and
through `sink` in the database when one is wired) so nothing is lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import msgspec


class Rejected(Exception):
    """Raised by a stage for one record; the pipeline turns it into a quarantine entry."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class QuarantinedRecord(msgspec.Struct, frozen=True):
    stream_id: str
    reason: str
    detail: str
    payload: str
    recorded_at: int


QuarantineSink = Callable[[list[QuarantinedRecord]], None]


def describe_payload(record: object, limit: int = 2000) -> str:
    """A printable copy of any record, however broken; truncated so one bad blob cannot bloat the log."""
    try:
        text = repr(record)
    except Exception as exc:  # a payload whose repr itself fails is still quarantined
        text = f"<unprintable {type(record).__name__}: {exc!r}>"
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


class Quarantine:
    """Recent rejections in memory; batches go to `sink` (e.g. the SQL quarantine table) on flush."""

    def __init__(self, capacity: int = 10_000, sink: QuarantineSink | None = None) -> None:
        self.recent: deque[QuarantinedRecord] = deque(maxlen=capacity)
        self._pending: list[QuarantinedRecord] = []
        self._sink = sink
        self.total = 0
        self.by_reason: dict[str, int] = {}

    def add(self, stream_id: str, error: Rejected, record: object, now_ns: int) -> None:
        entry = QuarantinedRecord(
            stream_id, error.reason, error.detail, describe_payload(record), now_ns
        )
        self.recent.append(entry)
        self.total += 1
        self.by_reason[error.reason] = self.by_reason.get(error.reason, 0) + 1
        if self._sink is not None:
            self._pending.append(entry)
            if len(self._pending) >= 500:
                self.flush()

    def flush(self) -> None:
        if self._sink is None or not self._pending:
            return
        batch, self._pending = self._pending, []
        self._sink(batch)
