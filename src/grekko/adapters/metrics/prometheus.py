"""A Prometheus collector over the ingest metrics registry.

Collected on scrape: nothing is copied on the hot path, the collector reads the registry's
counters when /metrics is asked for. `render` gives the text exposition format so the API can
serve it without running prometheus_client's own HTTP server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from grekko.engines.ingest.metrics import MetricsRegistry, StreamStats


class IngestCollector(Collector):
    def __init__(self, metrics: MetricsRegistry | Callable[[], list[StreamStats]]) -> None:
        self._snapshot = metrics.snapshot if isinstance(metrics, MetricsRegistry) else metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._snapshot()
        received = CounterMetricFamily(
            "grekko_stream_received", "Records a stream's source delivered", labels=["stream"]
        )
        published = CounterMetricFamily(
            "grekko_stream_published", "Records published after validation", labels=["stream"]
        )
        quarantined = CounterMetricFamily(
            "grekko_stream_quarantined",
            "Records rejected and quarantined",
            labels=["stream", "reason"],
        )
        gaps = CounterMetricFamily(
            "grekko_stream_gaps", "Sequence gaps consumers saw", labels=["stream"]
        )
        rate = GaugeMetricFamily(
            "grekko_stream_rate_per_second", "Published records per second", labels=["stream"]
        )
        lag = GaugeMetricFamily(
            "grekko_stream_lag_seconds",
            "Event time to publish, recent records",
            labels=["stream", "quantile"],
        )
        for s in stats:
            received.add_metric([s.stream_id], s.received)
            published.add_metric([s.stream_id], s.published)
            for reason, count in sorted(s.quarantined_by_reason.items()):
                quarantined.add_metric([s.stream_id, reason], count)
            gaps.add_metric([s.stream_id], s.gaps)
            rate.add_metric([s.stream_id], s.rate_per_s)
            for quantile, value in (
                ("0.5", s.lag_p50_ms),
                ("0.99", s.lag_p99_ms),
                ("1", s.lag_max_ms),
            ):
                if value is not None:
                    lag.add_metric([s.stream_id, quantile], value / 1e3)
        yield from (received, published, quarantined, gaps, rate, lag)


def render(metrics: MetricsRegistry) -> bytes:
    """The text exposition format of the ingest metrics (Content-Type text/plain; version=0.0.4)."""
    registry = CollectorRegistry()
    registry.register(IngestCollector(metrics))
    return generate_latest(registry)
