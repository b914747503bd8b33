"""The ingest metrics as Prometheus exposition text, parsed back with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from grekko.adapters.metrics.prometheus import render
from grekko.engines.ingest.metrics import MetricsRegistry


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_counters_gauges_and_lag_quantiles_per_stream() -> None:
    registry = MetricsRegistry()
    metrics = registry.stream("binance.trades")
    metrics.received = 5
    for i in range(4):
        metrics.on_published(now_ns=1_000_000_000 + i * 2_000_000, ts_event=1_000_000_000)
    metrics.on_quarantined("spike")
    metrics.on_gap(3)

    samples = _samples(render(registry))

    stream = (("stream", "binance.trades"),)
    assert samples[("grekko_stream_received_total", stream)] == 5
    assert samples[("grekko_stream_published_total", stream)] == 4
    assert samples[("grekko_stream_quarantined_total", (("reason", "spike"), *stream))] == 1
    assert samples[("grekko_stream_gaps_total", stream)] == 1
    assert samples[("grekko_stream_lag_seconds", (("quantile", "1"), *stream))] == 0.006
    assert samples[("grekko_stream_lag_seconds", (("quantile", "0.5"), *stream))] == 0.004


def test_an_empty_registry_renders_valid_text() -> None:
    assert list(text_string_to_metric_families(render(MetricsRegistry()).decode()))
