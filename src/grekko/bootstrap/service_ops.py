"""The operations face of a `grekko serve` process other than the gateway: /health (liveness),
/ready (the store answers, Redis answers, the consumers run) and /metrics (Prometheus, including
`grekko_bus_pending_entries`, the consumer-group backlog per consumer the autoscalers use).

These ports are internal (the NetworkPolicies admit only the gateway and monitoring), so the
endpoints need no credentials and reveal nothing but counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("grekko.serve")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def ops_app(runtime: Any) -> FastAPI:
    """The app; the service runs as its lifespan's background task."""
    from redis.asyncio import Redis

    redis = Redis.from_url(runtime.settings.redis.url.get_secret_value(), socket_timeout=2)
    backlog: dict[tuple[str, str], float] = {}
    registry = CollectorRegistry()
    registry.register(_ServiceCollector(runtime, backlog))
    stop = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        task = asyncio.create_task(runtime.run(stop))
        announced = await _announce(redis, runtime)
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await task
            if announced is not None:
                await _withdraw(redis, announced)
            await runtime.close()
            await redis.aclose()

    app = FastAPI(title=f"grekko {runtime.name}", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.stop = stop
    if runtime.state.get("agents") is not None:
        from grekko.bootstrap.service_agents import mount_agents_api

        mount_agents_api(app, runtime)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        checks = {"running": bool(runtime.state.get("running")), "redis": await _ping(redis)}
        if runtime.store is not None:
            checks["store"] = await asyncio.to_thread(_store_ok, runtime.store)
        ok = all(checks.values())
        body = {"ready": ok, "service": runtime.name, "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/active")
    def active() -> JSONResponse:
        """200 while this process works its partition; a standby answers 503 here."""
        running = bool(runtime.state.get("running"))
        body = {"active": running, "service": runtime.name}
        return JSONResponse(body, status_code=200 if running else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        await _read_backlog(redis, runtime, backlog)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    @app.get("/state")
    def state() -> Response:
        """Balances, positions and orders as this process's kernel holds them (for checks)."""
        from grekko.engines.distributed import encode_snapshot

        if runtime.kernel is None:
            return JSONResponse({"published": runtime.state.get("published", 0)})
        return Response(encode_snapshot(runtime.kernel), media_type="application/json")

    return app


async def _announce(redis: Any, runtime: Any) -> str | None:
    """The agents' API holder tells the gateways where it is (see grekko.api.agents_proxy)."""
    if runtime.state.get("agents") is None:
        return None
    from grekko.bootstrap.service_agents import announce_agents_api

    url = await announce_agents_api(redis, runtime.settings)
    log.info("agents: the agents' API is announced at %s", url)
    return url


async def _withdraw(redis: Any, url: str) -> None:
    from grekko.bootstrap.service_agents import withdraw_agents_api

    with contextlib.suppress(Exception):
        await withdraw_agents_api(redis, url)


async def _ping(redis: Any) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:
        return False


def _store_ok(store: Any) -> bool:
    try:
        store.stream_version("account-main")
    except Exception:
        return False
    return True


async def _read_backlog(redis: Any, runtime: Any, into: dict[tuple[str, str], float]) -> None:
    from grekko.engines.distributed import backlog

    for stream, _, group_name in runtime.groups():
        try:
            groups = await redis.xinfo_groups(stream)
        except Exception as exc:  # no such stream yet, or Redis away: no figure this time
            log.debug("no backlog of %s: %s", stream, exc)
            continue
        for info in groups:
            name = info.get("name")
            group = name.decode() if isinstance(name, bytes) else str(name)
            if group == group_name:
                into[(stream, group)] = backlog(info)


class _ServiceCollector(Collector):
    def __init__(self, runtime: Any, backlog: dict[tuple[str, str], float]) -> None:
        self._runtime = runtime
        self._backlog = backlog

    def collect(self) -> Any:
        pending = GaugeMetricFamily(
            "grekko_bus_pending_entries",
            "Consumer-group backlog per consumer: (lag + pending) / consumers",
            labels=["stream", "group"],
        )
        for (stream, group), value in sorted(self._backlog.items()):
            pending.add_metric([stream, group], value)
        yield pending
        stats = self._runtime.streams.stats()
        bus = CounterMetricFamily(
            "grekko_bus_messages", "Stream bus messages by outcome", labels=["outcome"]
        )
        for outcome in ("published", "handled", "duplicates", "failures", "dead_lettered"):
            bus.add_metric([outcome], float(getattr(stats, outcome)))
        yield bus
        kernel = self._runtime.kernel
        if kernel is not None:
            orders = GaugeMetricFamily("grekko_service_orders", "Orders this process knows")
            orders.add_metric([], float(len(kernel.cache.orders)))
            yield orders
        follower = self._runtime.state.get("follower")
        if follower is not None:
            caught = CounterMetricFamily(
                "grekko_orders_caught_up",
                "Order events applied from the store that no order notice had brought",
            )
            caught.add_metric([], float(follower.caught_up))
            yield caught
