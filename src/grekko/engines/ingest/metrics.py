"""Per-stream ingest metrics: rate, lag (event time -> publish), quarantined, gaps.

Kept as plain counters and a ring of recent lags so the hot path pays an add and a store;
percentiles and rates are computed when someone asks (`snapshot`), e.g. the API's /metrics
through the Prometheus collector in adapters/metrics.
"""

from __future__ import annotations

from array import array

import msgspec

LAG_SAMPLES = 8192


class StreamStats(msgspec.Struct, frozen=True):
    stream_id: str
    received: int
    published: int
    quarantined: int
    quarantined_by_reason: dict[str, int]
    gaps: int
    missing: int
    rate_per_s: float
    lag_p50_ms: float | None  # None: not measured (e.g. a replay of old data)
    lag_p99_ms: float | None
    lag_max_ms: float | None


class StreamMetrics:
    __slots__ = (
        "_lags",
        "_next",
        "_rate",
        "_window_count",
        "_window_start",
        "gaps",
        "measures_lag",
        "missing",
        "published",
        "quarantined",
        "quarantined_by_reason",
        "received",
        "stream_id",
    )

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.received = 0
        self.published = 0
        self.quarantined = 0
        self.quarantined_by_reason: dict[str, int] = {}
        self.gaps = 0
        self.missing = 0
        self._lags = array("q", bytes(8 * LAG_SAMPLES))
        self._next = 0
        self._window_start = 0
        self._window_count = 0
        self._rate = 0.0
        self.measures_lag = True

    def on_published(self, now_ns: int, ts_event: int) -> None:
        self.published += 1
        self._lags[self._next & (LAG_SAMPLES - 1)] = now_ns - ts_event
        self._next += 1
        self._window_count += 1
        elapsed = now_ns - self._window_start
        if elapsed >= 1_000_000_000:
            if self._window_start:
                self._rate = self._window_count * 1e9 / elapsed
            self._window_start = now_ns
            self._window_count = 0

    def on_quarantined(self, reason: str) -> None:
        self.quarantined += 1
        self.quarantined_by_reason[reason] = self.quarantined_by_reason.get(reason, 0) + 1

    def on_gap(self, missing: int) -> None:
        self.gaps += 1
        self.missing += missing

    def lags_ns(self) -> list[int]:
        count = min(self._next, LAG_SAMPLES)
        return sorted(self._lags[:count]) if count else []

    def snapshot(self) -> StreamStats:
        lags = self.lags_ns()

        def pct(q: float) -> float | None:
            if not self.measures_lag:
                return None
            return lags[min(len(lags) - 1, int(q * len(lags)))] / 1e6 if lags else 0.0

        return StreamStats(
            stream_id=self.stream_id,
            received=self.received,
            published=self.published,
            quarantined=self.quarantined,
            quarantined_by_reason=dict(self.quarantined_by_reason),
            gaps=self.gaps,
            missing=self.missing,
            rate_per_s=self._rate,
            lag_p50_ms=pct(0.5),
            lag_p99_ms=pct(0.99),
            lag_max_ms=pct(1.0),
        )


class MetricsRegistry:
    """All streams' metrics in one place; what the Prometheus collector reads."""

    def __init__(self) -> None:
        self._streams: dict[str, StreamMetrics] = {}

    def stream(self, stream_id: str) -> StreamMetrics:
        metrics = self._streams.get(stream_id)
        if metrics is None:
            metrics = self._streams[stream_id] = StreamMetrics(stream_id)
        return metrics

    def drop(self, stream_id: str) -> None:
        self._streams.pop(stream_id, None)

    def snapshot(self) -> list[StreamStats]:
        return [metrics.snapshot() for metrics in self._streams.values()]
