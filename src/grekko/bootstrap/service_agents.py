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


_WITHDRAW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)


def advertised_url(settings: Any) -> str:
    """Where the other processes reach this one: serve.advertise_url, else this host's name (a
    StatefulSet pod's is pod.service.namespace.svc…) and port when it listens on every address."""
    import socket

    if settings.serve.advertise_url:
        return str(settings.serve.advertise_url).rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a listening address, not a bind
        host = socket.getfqdn()
    return f"http://{host}:{settings.port}"


async def announce_agents_api(redis: Any, settings: Any) -> str:
    """This process serves the agents' API now: the gateways follow it here."""
    from grekko.api.agents_proxy import AGENTS_API_KEY

    url = advertised_url(settings)
    await redis.set(AGENTS_API_KEY, url)
    return url


async def withdraw_agents_api(redis: Any, url: str) -> None:
    """Gone at shutdown, unless a newer holder announced itself meanwhile."""
    from grekko.api.agents_proxy import AGENTS_API_KEY

    await redis.eval(_WITHDRAW, 1, AGENTS_API_KEY, url)


AGENT_MESSAGES = "grekko.agents.messages"  # the agents' messages, for every gateway's clients


def export_agent_messages(kernel: Any, streams: Any) -> None:
    """The agents' messages (votes, proposals, confirmations asked for) leave this process for
    the gateways, whose WebSocket clients follow them on the topic `agents`."""
    from grekko.agents.messaging import MESSAGE_TOPIC_PREFIX
    from grekko.domain.agents import AgentMessage

    def announce(message: object) -> None:
        if isinstance(message, AgentMessage):
            streams.publish(AGENT_MESSAGES, message, event_id=message.message_id)

    kernel.bus.subscribe(MESSAGE_TOPIC_PREFIX + "*", announce)


def on_agent_messages(kernel: Any) -> Any:
    """The gateway's side: each message back on the local bus under the topic it had."""
    from grekko.agents.messaging import BROADCAST, MESSAGE_TOPIC_PREFIX
    from grekko.domain.agents import AgentMessage

    def handle(delivery: Any) -> None:
        message = delivery.message
        if not isinstance(message, AgentMessage):
            raise TypeError(f"not an agent message: {delivery.type_name}")
        kernel.bus.publish(MESSAGE_TOPIC_PREFIX + (message.recipient or BROADCAST), message)

    return handle
