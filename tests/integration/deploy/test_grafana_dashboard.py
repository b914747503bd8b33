"""deploy/grafana/grekko-dashboard.json queries metrics Grekko really exports.

The names come from a real scrape: the whole platform as `grekko up` builds it, /metrics asked
over ASGI with a viewer's token, parsed with prometheus_client's own parser. The one exception is
the bus backlog gauge the services are asked to export (the HPAs scale on it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from deploy_support import BACKLOG_METRIC, DEPLOY
from prometheus_client.parser import text_string_to_metric_families

from grekko.api.principal import Role
from integration.api.platform_support import running_platform

DASHBOARD: dict[str, Any] = json.loads((DEPLOY / "grafana" / "grekko-dashboard.json").read_text())
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
METRIC = re.compile(r"\bgrekko_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}
# what the dashboard is for: requests and latency, WebSocket clients, the bus backlog, orders,
# market data ingest and its lag
MUST_SHOW = {
    "grekko_http_requests_total",
    "grekko_http_request_duration_seconds_bucket",
    "grekko_ws_clients",
    BACKLOG_METRIC,
    "grekko_orders",
    "grekko_stream_published_total",
    "grekko_stream_lag_seconds",
}


def exprs() -> list[str]:
    return [t["expr"] for p in PANELS for t in p["targets"]]


async def exported_names(data_dir: Path) -> set[str]:
    async with running_platform(data_dir) as h:
        answer = await h.client.get("/metrics", headers=h.auth(Role.VIEWER))
    assert answer.status_code == 200, answer.text
    names: set[str] = set()
    for family in text_string_to_metric_families(answer.text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


@pytest.mark.asyncio
async def test_every_query_uses_a_metric_grekko_exports(tmp_path: Path) -> None:
    exported = await exported_names(tmp_path)
    assert "grekko_http_requests_total" in exported  # the scrape really has the API's metrics
    used = {name for expr in exprs() for name in METRIC.findall(expr)}
    assert used - exported <= {BACKLOG_METRIC}  # the one the services are asked to export
    assert used >= MUST_SHOW


def test_every_panel_queries_through_the_chosen_prometheus() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert PANELS
    for panel in PANELS:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert METRIC.search(target["expr"]), (panel["title"], target["expr"])
            assert 'job=~"$job"' in target["expr"]  # the job filter applies everywhere


def test_the_queries_are_balanced() -> None:
    for expr in exprs():
        for left, right in ("()", "{}", "[]"):
            depth = 0
            for char in expr:
                depth += (char == left) - (char == right)
                assert depth >= 0, expr
            assert depth == 0, expr


def test_the_dashboard_is_a_well_formed_grafana_document() -> None:
    assert DASHBOARD["schemaVersion"] >= 36
    assert DASHBOARD["uid"] == "grekko-overview"
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    refs = [t["refId"] for p in PANELS for t in p["targets"]]
    assert all(refs)
    for panel in PANELS:
        own = [t["refId"] for t in panel["targets"]]
        assert len(own) == len(set(own)), panel["title"]
