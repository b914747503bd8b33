"""The agents' API on the agents process itself (the gateway passes /api/v1/agents on to it):
the same routes as in one process, over the desk that runs here, with the platform's own
authentication (the same user store and token keys as the gateway)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def mount_agents_api(app: FastAPI, runtime: Any) -> None:
    from grekko.api.desk import TradingDesk
    from grekko.api.problems import install_problem_handlers
    from grekko.api.routes import agents, proposals
    from grekko.api.services import ApiServices
    from grekko.bootstrap.auth import auth_service_for

    auth = auth_service_for(runtime.settings, runtime.store.engine)
    svc = ApiServices(
        desk=TradingDesk(runtime.kernel, remote=True),
        auth=auth,
        settings=runtime.settings,
        agents=runtime.state["agents"],
    )
    app.state.services = svc
    app.state.auth = auth
    install_problem_handlers(app)
    app.include_router(proposals.router)  # before agents: its static paths come first
    app.include_router(agents.router)
