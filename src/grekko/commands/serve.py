"""`grekko serve <service>`: one service of the scaled-out platform in this process.

uvicorn serves the service's HTTP face (the whole API for the gateway; /health, /ready,
/metrics and /state for the others) and owns the signals: SIGTERM or SIGINT stop accepting
requests, the consumers finish the message in hand and stop, what was published is flushed,
and the store closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

from grekko.settings import Settings

log = logging.getLogger("grekko.serve")


def run_serve(
    service: str, settings: Settings, *, speed: float | None = None, max_bars: int | None = None
) -> None:
    asyncio.run(_serve(service, settings, speed, max_bars))


async def _serve(
    service: str, settings: Settings, speed: float | None, max_bars: int | None
) -> None:
    """Built on the running loop: the stream bus's writer lives there from the first publish
    (the agents share their caps while they are seated)."""
    import uvicorn

    from grekko.bootstrap.services import build_service

    lease = await _hold_partition(service, settings) if service in LEASED else None
    runtime = build_service(service, settings, speed=speed, max_bars=max_bars)
    if service == "gateway":
        from grekko.api.redaction import install_redaction
        from grekko.bootstrap.service_gateway import gateway_platform

        install_redaction()
        platform = gateway_platform(runtime, settings)
        app = platform.app
        if platform.admin_password is not None:
            sys.stderr.write(
                f"First start: created user admin with password {platform.admin_password} "
                "(shown only now)\n"
            )
    else:
        from grekko.bootstrap.service_ops import ops_app

        app = ops_app(runtime)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=20,
    )
    sys.stderr.write(f"grekko {service} serving on http://{settings.host}:{settings.port}\n")
    sys.stderr.flush()
    keeper = asyncio.create_task(lease.keep(_lost_lease)) if lease is not None else None
    try:
        await uvicorn.Server(config).serve()
    finally:
        if keeper is not None:
            keeper.cancel()
        if lease is not None:
            await lease.release()


LEASED = frozenset({"execution", "agents"})  # partitioned: one process per partition at a time
LOST_LEASE_EXIT = 75


def _lost_lease() -> None:
    """Another process may already work this partition: stop at once, acting on nothing more."""
    log.critical("the partition lease was lost; exiting so that only one process works it")
    sys.stderr.write("grekko: the partition lease was lost; exiting\n")
    sys.stderr.flush()
    os._exit(LOST_LEASE_EXIT)


async def _hold_partition(service: str, settings: Settings) -> Any:
    """The partition's lease; until it is ours this process is a standby. It answers /health and
    /ready (alive, able to take over: a rolling update can go on past it) and /active with 503
    (it works nothing); once it holds the lease the service's own app answers all three."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from grekko.adapters.redis import RedisLease
    from grekko.bootstrap.services import slot

    instance = slot(service, settings)
    key = f"grekko:lease:{service}-{instance}"
    lease = RedisLease(
        settings.redis.url.get_secret_value(), key, ttl_ms=settings.serve.lease_ttl_ms
    )
    if await lease.try_acquire():
        return lease
    standby = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    body = {"service": service, "instance": instance, "standby": True}
    standby.get("/health")(lambda: {"status": "ok", **body})
    standby.get("/ready")(lambda: {"ready": True, "active": False, **body})
    standby.get("/active")(lambda: JSONResponse({"active": False, **body}, status_code=503))
    server = uvicorn.Server(
        uvicorn.Config(standby, host=settings.host, port=settings.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    sys.stderr.write(f"grekko {service} {instance}: standby until the partition is free\n")
    sys.stderr.flush()
    try:
        await lease.acquire()
    finally:
        server.should_exit = True
        await serving
    return lease
