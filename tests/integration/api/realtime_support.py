"""Shared pieces of the /ws and /graphql tests: a token authenticator double and a real uvicorn.

The authenticator is the one stand-in (auth is another module, tested on its own): a fixed map of
token -> Principal behind the real Authenticator protocol, failing with the real ApiProblem. The
server is uvicorn itself, serving on 127.0.0.1 on the test's own event loop, which is how
`grekko up` runs the kernel and the API together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem, install_problem_handlers

# Secrets shaped like the real ones, so a leak into logs or answers would be visible in a search.
VIEWER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.viewer-7f3a9c1e5b.sig-Q2x9LmPp"  # noqa: S105
TRADER_KEY = "gk_3b1f0e9d_SuperSecretApiKeyMaterial42"
BAD_TOKEN = "eyJhbGciOiJIUzI1NiJ9.forged-0000.sig-NotValid"  # noqa: S105
PRINCIPALS = {
    VIEWER_TOKEN: Principal(user_id=1, username="vera", role=Role.VIEWER, via="jwt"),
    TRADER_KEY: Principal(user_id=2, username="tom", role=Role.TRADER, via="api_key"),
}
SECRETS = (VIEWER_TOKEN, TRADER_KEY, BAD_TOKEN)


class TokenAuthenticator:
    """Authenticator protocol over a fixed token map; counts calls so tests can see it was asked."""

    def __init__(self, principals: dict[str, Principal] | None = None) -> None:
        self.principals = dict(PRINCIPALS if principals is None else principals)
        self.calls = 0

    def authenticate(self, credential: str) -> Principal:
        self.calls += 1
        principal = self.principals.get(credential)
        if principal is None:
            raise ApiProblem(401, "unauthorized", "Authentication required", "invalid credential")
        return principal


def server_log(records: list[logging.LogRecord]) -> str:
    """Everything the server side logged, tracebacks included (the client library's own debug
    log echoes what the test sent, so it is left out)."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(
        formatter.format(r) for r in records if not r.name.startswith("websockets.client")
    )


def make_app(*routers: Any) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)
    return app


@contextlib.asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn on an ephemeral port of 127.0.0.1; yields "ws://127.0.0.1:<port>"."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
