"""The FastAPI app factory: builds nothing itself, assembles what bootstrap hands it.

Order of the ASGI middleware, outermost first: request metrics (so 429s and 413s are counted),
then whatever `secure` installs (security headers, CORS, body size limit, rate limits), then
the routes. Background coroutines (the replay, the loop-lag watcher) start with the app and are
cancelled when it stops; `on_shutdown` callbacks then close stores.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from grekko.api.ops import RequestMetricsMiddleware, install_metrics, watch_loop_lag
from grekko.api.ops import router as ops_router
from grekko.api.problems import install_problem_handlers
from grekko.api.routes import (
    agents,
    bookmarks,
    coinbase,
    connections,
    market,
    metamask,
    metamask_swap,
    proposals,
    records,
    risk,
    secrets,
    streams,
    trading,
    walletconnect,
    wallets,
)
from grekko.api.services import ApiServices
from grekko.api.ui import UiFiles

Background = Callable[[], Coroutine[Any, Any, Any]]


def create_app(
    svc: ApiServices,
    *,
    routers: Sequence[APIRouter] = (),
    secure: Callable[[FastAPI], None] | None = None,
    background: Sequence[Background] = (),
    on_shutdown: Sequence[Callable[[], None]] = (),
    static_dir: Path | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(watch_loop_lag(app.state.api_metrics))]
        tasks += [asyncio.create_task(start()) for start in background]
        app.state.background = tasks
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for close in on_shutdown:
                close()

    app = FastAPI(
        title="Grekko",
        version=version,
        description="Self-hosted trading platform: REST, WebSocket (/ws) and GraphQL (/graphql).",
        lifespan=lifespan,
    )
    app.state.services = svc
    app.state.auth = svc.auth
    if svc.audit is not None:
        app.state.audit = svc.audit.append
    install_problem_handlers(app)
    for router in (
        *routers,
        market.router,
        trading.router,
        risk.router,
        streams.router,
        bookmarks.router,  # before records: /news/bookmarks is more specific than /news
        records.router,
        secrets.router,
        proposals.router,  # before agents: its static paths would match /agents/{agent_id}
        agents.router,
        wallets.router,
        walletconnect.router,
        metamask.router,
        metamask_swap.router,
        connections.router,
        coinbase.router,
        ops_router,
    ):
        app.include_router(router)
    if secure is not None:
        secure(app)
    install_metrics(app, svc)
    app.add_middleware(RequestMetricsMiddleware)
    if static_dir is not None:
        app.mount("/", UiFiles(static_dir), name="ui")
    return app
