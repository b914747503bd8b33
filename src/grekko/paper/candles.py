"""Candles of a running paper session, as far as it has replayed: what the chart may show.

They come from the replay's own columns (nothing is copied into a store), cut at the session
clock so a client never sees a bar the kernel has not processed, and resampled on request.
"""

from __future__ import annotations

import numpy as np

from grekko.core.errors import DataError
from grekko.core.time import Clock
from grekko.domain.candles import Timeframe, as_timeframe, resample
from grekko.domain.data import Bar
from grekko.paper.replay import Replay, feed_bars


class SessionCandles:
    def __init__(self, replay: Replay, clock: Clock) -> None:
        self._feeds = {feed.instrument_id: feed for feed in replay.feeds}
        self._clock = clock

    def range(
        self,
        instrument_id: str,
        timeframe: Timeframe | str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int | None = None,
    ) -> list[Bar]:
        """The latest `limit` bars in [start, end) that the session has replayed, oldest first."""
        feed = self._feeds.get(instrument_id)
        if feed is None:
            return []
        tf = as_timeframe(timeframe)
        c = feed.columns
        base_ns = int(c.ts_close_ns[0] - c.ts_open_ns[0])
        if tf.ns < base_ns or tf.ns % base_ns:
            raise DataError(
                f"{instrument_id} is replayed in {base_ns // 10**9}s bars; {tf.label} cannot be built"
            )
        known = int(np.searchsorted(c.ts_close_ns, self._clock.timestamp_ns(), side="right"))
        lo = 0 if start_ns is None else int(np.searchsorted(c.ts_open_ns, start_ns, side="left"))
        hi = known if end_ns is None else min(known, int(np.searchsorted(c.ts_open_ns, end_ns)))
        per_bar = tf.ns // base_ns
        if limit is not None:
            lo = max(lo, hi - (limit + 1) * per_bar)
        bars = list(feed_bars(feed, lo, hi))
        if per_bar > 1:
            bars = resample(bars, tf, include_partial=True)
            bars = [b for b in bars if start_ns is None or b.ts_open >= start_ns]
        return bars[-limit:] if limit is not None else bars
