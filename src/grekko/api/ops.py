"""Operations: /health (liveness), /ready (database, bus, venues), /metrics (Prometheus).

Liveness says only that the process answers; readiness runs the checks bootstrap registered
(the database answers a query, the bus has no failing subscribers piling up, the venues are
connected). Both are unauthenticated so orchestrators can probe them; they reveal nothing.
/metrics needs a viewer (a scraper uses an API key).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grekko.adapters.metrics.prometheus import IngestCollector
from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.services import ApiServices, services

router = APIRouter(tags=["operations"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ApiMetrics:
    """The app's own registry: nothing global, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "grekko_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "grekko_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "grekko_event_loop_lag_seconds",
            "How late the event loop (which also runs the kernel) wakes up: the bus lag",
            registry=self.registry,
        )


class KernelCollector(Collector):
    def __init__(self, svc: ApiServices) -> None:
        self._svc = svc

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        desk = self._svc.desk
        kernel = desk.kernel
        by_status: dict[str, int] = {}
        for order in kernel.cache.orders.values():
            by_status[str(order.status)] = by_status.get(str(order.status), 0) + 1
        orders = GaugeMetricFamily("grekko_orders", "Orders known to the kernel", labels=["status"])
        for status, count in sorted(by_status.items()):
            orders.add_metric([status], count)
        yield orders
        yield CounterMetricFamily(
            "grekko_risk_denials", "Orders denied by risk", value=kernel.risk.denials
        )
        yield CounterMetricFamily(
            "grekko_bus_handler_errors",
            "Bus subscribers that raised",
            value=kernel.bus.handler_errors,
        )
        yield GaugeMetricFamily(
            "grekko_equity", "Portfolio equity", value=float(kernel.portfolio.equity())
        )
        hub = self._svc.extra.get("ws_hub")
        if hub is not None:
            stats: dict[str, Any] = hub.stats()
            for name, value in sorted(stats.items()):
                if isinstance(value, int | float):
                    yield GaugeMetricFamily(
                        f"grekko_ws_{name}", f"WebSocket hub: {name}", value=value
                    )


def install_metrics(app: Any, svc: ApiServices) -> ApiMetrics:
    metrics = ApiMetrics()
    metrics.registry.register(KernelCollector(svc))
    if svc.ingest_metrics is not None:
        metrics.registry.register(IngestCollector(svc.ingest_metrics))
    app.state.api_metrics = metrics
    return metrics


class RequestMetricsMiddleware:
    """Counts and times every HTTP request by its route template (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            metrics: ApiMetrics | None = getattr(scope["app"].state, "api_metrics", None)
            if metrics is not None:
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                metrics.requests.labels(scope["method"], template, str(status[0])).inc()
                metrics.latency.labels(scope["method"], template).observe(
                    time.perf_counter() - started
                )


async def watch_loop_lag(metrics: ApiMetrics, every_s: float = 0.5) -> None:
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(every_s)
        metrics.loop_lag.set(max(0.0, loop.time() - before - every_s))


@router.get("/health", include_in_schema=True)
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready"}})
def ready(svc: Annotated[ApiServices, Depends(services)]) -> JSONResponse:
    results: dict[str, bool] = {}
    for name, check in svc.ready_checks.items():
        ok = False
        with contextlib.suppress(Exception):
            ok = bool(check())
        results[name] = ok
    ok = all(results.values())
    return JSONResponse({"ready": ok, "checks": results}, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(
    request: Request, _: Annotated[Principal, Depends(require(Role.VIEWER))]
) -> Response:
    api_metrics: ApiMetrics = request.app.state.api_metrics
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE)
