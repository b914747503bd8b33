"""The replayed market: several instruments' bar columns merged into one time-ordered sequence.

A bar's place in that sequence (its index) is what the session checkpoints, so the merge must be
deterministic: ordered by close time, ties in the order the feeds were given.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from grekko.adapters.files.bars import iter_bar_rows
from grekko.domain.data import Bar


class BarColumns(Protocol):
    """Parallel columns of one instrument's bars (numpy arrays; times in UTC epoch ns)."""

    @property
    def ts_open_ns(self) -> Any: ...
    @property
    def ts_close_ns(self) -> Any: ...
    @property
    def open(self) -> Any: ...
    @property
    def high(self) -> Any: ...
    @property
    def low(self) -> Any: ...
    @property
    def close(self) -> Any: ...
    @property
    def volume(self) -> Any: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ReplayFeed:
    instrument_id: str
    columns: BarColumns


class Replay:
    """The bars of every feed in time order; `bars()` restarts from the first bar each call."""

    def __init__(self, feeds: Sequence[ReplayFeed]) -> None:
        if not feeds or any(len(feed.columns) == 0 for feed in feeds):
            raise ValueError("a replay needs at least one feed, and no empty feed")
        self.feeds = tuple(feeds)
        self.total = sum(len(feed.columns) for feed in feeds)

    @property
    def instrument_ids(self) -> list[str]:
        return [feed.instrument_id for feed in self.feeds]

    @property
    def first_ts_open(self) -> int:
        return min(int(feed.columns.ts_open_ns[0]) for feed in self.feeds)

    def fingerprint(self) -> str:
        """Names this replay, so a checkpoint is never applied to a different one."""
        parts = [
            [
                feed.instrument_id,
                len(feed.columns),
                int(feed.columns.ts_open_ns[0]),
                int(feed.columns.ts_open_ns[-1]),
            ]
            for feed in self.feeds
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]

    def bars(self) -> Iterator[Bar]:
        if len(self.feeds) == 1:
            return feed_bars(self.feeds[0])
        merged = heapq.merge(*(_keyed(i, feed) for i, feed in enumerate(self.feeds)))
        return (bar for _, _, bar in merged)


def feed_bars(feed: ReplayFeed, start: int = 0, stop: int | None = None) -> Iterator[Bar]:
    """The feed's bars [start:stop] in order."""
    iid = feed.instrument_id
    for ts_open, ts_close, o, h, low, close, v in iter_bar_rows(feed.columns, start, stop):  # type: ignore[arg-type]
        yield Bar(iid, o, h, low, close, v, ts_open, ts_close)


def _keyed(index: int, feed: ReplayFeed) -> Iterator[tuple[int, int, Bar]]:
    for bar in feed_bars(feed):
        yield bar.ts_event, index, bar
