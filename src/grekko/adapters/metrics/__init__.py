"""Metrics exposition: the kernel's counters in Prometheus' text format for the API's /metrics."""
