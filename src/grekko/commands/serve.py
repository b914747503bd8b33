"""`grekko serve <service>`: one service of the scaled-out platform in this process.

uvicorn serves the service's HTTP face (the whole API for the gateway; /health, /ready,
/metrics and /state for the others) and owns the signals: SIGTERM or SIGINT stop accepting
requests, the consumers finish the message in hand and stop, what was published is flushed,
and the store closes.
"""

from __future__ import annotations

import asyncio
import logging
import sys

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
    await uvicorn.Server(config).serve()
