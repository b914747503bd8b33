"""Per-stream metrics: counts, lag percentiles, rate, quarantine reasons, gaps."""

from __future__ import annotations

import pytest

from grekko.engines.ingest.metrics import LAG_SAMPLES, MetricsRegistry, StreamMetrics

MS = 10**6
S = 10**9
T0 = 1_618_790_400 * S


def test_empty_stream_snapshot_is_all_zero() -> None:
    stats = StreamMetrics("s").snapshot()
    assert (stats.received, stats.published, stats.quarantined, stats.gaps) == (0, 0, 0, 0)
    assert (stats.lag_p50_ms, stats.lag_p99_ms, stats.lag_max_ms, stats.rate_per_s) == (0, 0, 0, 0)
    assert stats.quarantined_by_reason == {}


def test_lag_percentiles() -> None:
    metrics = StreamMetrics("s")
    for lag_ms in reversed(range(1, 101)):  # order does not matter
        metrics.on_published(T0 + lag_ms * MS, T0)
    stats = metrics.snapshot()
    assert stats.published == 100
    assert stats.lag_p50_ms == 51.0
    assert stats.lag_p99_ms == 100.0
    assert stats.lag_max_ms == 100.0
    assert metrics.lags_ns() == [lag * MS for lag in range(1, 101)]


def test_lag_ring_keeps_the_most_recent_samples() -> None:
    metrics = StreamMetrics("s")
    for _ in range(LAG_SAMPLES):
        metrics.on_published(T0 + 500 * MS, T0)  # old, slow period
    for _ in range(LAG_SAMPLES):
        metrics.on_published(T0 + 2 * MS, T0)
    stats = metrics.snapshot()
    assert stats.published == 2 * LAG_SAMPLES
    assert stats.lag_max_ms == 2.0
    assert len(metrics.lags_ns()) == LAG_SAMPLES


def test_negative_lag_from_a_clock_behind_the_data_is_kept() -> None:
    metrics = StreamMetrics("s")
    metrics.on_published(T0, T0 + 3 * MS)
    assert metrics.snapshot().lag_max_ms == -3.0


def test_rate_per_second_over_one_second_windows() -> None:
    metrics = StreamMetrics("s")
    metrics.on_published(T0, T0)  # opens the first window
    for k in range(1, 101):
        metrics.on_published(T0 + k * 10 * MS, T0)
    assert metrics.snapshot().rate_per_s == pytest.approx(100.0)
    for k in range(1, 51):
        metrics.on_published(T0 + S + k * 20 * MS, T0)
    assert metrics.snapshot().rate_per_s == pytest.approx(50.0)


def test_counts_quarantine_reasons_and_gaps() -> None:
    metrics = StreamMetrics("s")
    metrics.received = 7
    for reason in ("spike", "schema.price", "spike", "out_of_order", "spike"):
        metrics.on_quarantined(reason)
    metrics.on_gap(3)
    metrics.on_gap(1)
    stats = metrics.snapshot()
    assert stats.received == 7
    assert stats.quarantined == 5
    assert stats.quarantined_by_reason == {"spike": 3, "schema.price": 1, "out_of_order": 1}
    assert (stats.gaps, stats.missing) == (2, 4)
    metrics.on_quarantined("spike")
    assert stats.quarantined_by_reason["spike"] == 3  # a snapshot is a copy


def test_registry_creates_drops_and_snapshots_streams() -> None:
    registry = MetricsRegistry()
    first = registry.stream("a")
    assert registry.stream("a") is first
    registry.stream("b").on_quarantined("spike")
    assert [s.stream_id for s in registry.snapshot()] == ["a", "b"]
    registry.drop("a")
    registry.drop("missing")
    assert [(s.stream_id, s.quarantined) for s in registry.snapshot()] == [("b", 1)]
