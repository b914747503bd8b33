"""The agent desk: list and inspect agents, configure and select them, talk to them.

Viewers read; admins configure, enable and change an agent's state; traders ask an agent for a
proposal and send messages. Every handler runs on the event loop that also runs the paper
session (see PaperSession.run_async), so the desk is never touched from two threads.
Configuration changes are events in the store, so they survive a restart.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request

from grekko.agents.base import BaseAgent
from grekko.agents.config import AgentConfig
from grekko.agents.desk import AgentDesk
from grekko.api.agent_schemas import (
    AgentConfigIn,
    AgentOut,
    AgentStateIn,
    AnalysisOut,
    EnableIn,
    MessageIn,
    MessageOut,
    PerformanceOut,
    ProposalOut,
    ProposeIn,
    ProposeOut,
    SelectIn,
    message_type,
    priority,
)
from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.schemas import problems
from grekko.api.services import ApiServices, audit, services
from grekko.domain.agents import MessageType
from grekko.domain.instruments import Instrument

log = logging.getLogger("grekko.api.agents")

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
# types only the coordinator and the risk engine send; a user needs the admin role for them
SYSTEM_MESSAGES = frozenset({MessageType.EXECUTION_RESULT, MessageType.RISK_ALERT})


async def agent_desk(svc: Annotated[ApiServices, Depends(services)]) -> AgentDesk:
    desk: AgentDesk | None = svc.agents
    if desk is None:
        raise ApiProblem(
            503,
            "agents_not_running",
            "Agents are not running",
            "this server runs no agent desk (settings: agents.enabled is empty)",
        )
    return desk


Desk = Annotated[AgentDesk, Depends(agent_desk)]


def agent_of(desk: AgentDesk, agent_id: str) -> BaseAgent:
    agent = desk.agents.get(agent_id)
    if agent is None:
        known = ", ".join(desk.agents)
        detail = f"no agent {agent_id[:64]!r}; agents: {known}"
        raise ApiProblem(404, "unknown_agent", "Unknown agent", detail)
    return agent


def known_agent(desk: AgentDesk, agent_id: str, field: str) -> str:
    """An agent named in a request body: unknown is a 422, not a 404."""
    if agent_id not in desk.agents:
        raise ApiProblem(
            422, "unknown_agent", "Unknown agent",
            f"{field}: no agent {agent_id!r}; agents: {', '.join(desk.agents)}",
        )  # fmt: skip
    return agent_id


def instrument_of(desk: AgentDesk, instrument_id: str, status: int = 422) -> Instrument:
    found = desk.access.instrument(instrument_id)
    if found is None:
        known = ", ".join(desk.access.instruments()) or "none"
        raise ApiProblem(
            status, "unknown_instrument", "Unknown instrument",
            f"unknown instrument {instrument_id!r}; known: {known}",
        )  # fmt: skip
    return found


def describe(desk: AgentDesk, agent_id: str) -> AgentOut:
    agent = agent_of(desk, agent_id)
    d = desk.describe(agent_id)
    state = cast("dict[str, Any]", d["state"])
    return AgentOut.model_validate(
        {
            "agent_id": agent_id,
            "agent_type": str(agent.agent_type),
            "title": state.get("title", ""),
            "autonomy": state.get("autonomy", ""),
            "weight": desk.coordinator.seats[agent_id].weight,
            "enabled": d["enabled"],
            "config": d["config"],
            "hosted_strategies": d["hosted_strategies"],
            "state": state,
        }
    )


def configure(desk: AgentDesk, agent_id: str, by: str, changes: dict[str, Any]) -> AgentConfig:
    """desk.configure: a bad value, or a strategy that cannot start under the new configuration,
    leaves the previous one in force (the desk stores a configuration only once it runs)."""
    try:
        return desk.configure(agent_id, by, **changes)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise _bad_config(str(exc)) from None


def _bad_config(detail: str) -> ApiProblem:
    return ApiProblem(422, "invalid_agent_config", "The agent configuration is not valid", detail)


# ---- messages (before /{agent_id}, which would match "messages") -------------------------------
@router.get("/messages", response_model=list[MessageOut], responses=problems(503))
async def list_messages(
    _: Viewer,
    desk: Desk,
    agent_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """The latest messages, newest first; with agent_id, those it sent or received."""
    return [MessageOut.of(m) for m in desk.messenger.messages_for(agent_id, limit)]


@router.post("/messages", response_model=MessageOut, status_code=201, responses=problems(503))
async def send_message(body: MessageIn, who: Trader, desk: Desk, request: Request) -> MessageOut:
    sender = _sender(body.sender, who, desk)
    kind = message_type(body.message_type)
    if kind in SYSTEM_MESSAGES and who.role is not Role.ADMIN:
        raise ApiProblem(403, "forbidden", "Not allowed", f"sending {kind} needs the admin role")
    if body.recipient is not None:
        known_agent(desk, body.recipient, "recipient")
    message = desk.messenger.send(
        kind, sender, body.recipient, dict(body.payload), priority(body.priority)
    )
    audit(request, who.username, "agents.message.send", body.recipient or "*",
          {"message_id": message.message_id, "type": str(kind), "sender": sender})  # fmt: skip
    return MessageOut.of(message)


def _sender(asked: str | None, who: Principal, desk: AgentDesk) -> str:
    own = f"user:{who.username}"
    if asked is None or asked == own:
        return own
    if who.role is not Role.ADMIN:
        raise ApiProblem(
            403, "forbidden", "Not allowed", f"only an admin may send as {asked!r}; you are {own}"
        )
    return known_agent(desk, asked, "sender")


# ---- the agents ----------------------------------------------------------------------------------
@router.get("", response_model=list[AgentOut], responses=problems(503))
async def list_agents(_: Viewer, desk: Desk) -> list[AgentOut]:
    return [describe(desk, agent_id) for agent_id in desk.agents]


@router.post("/select", response_model=list[AgentOut], responses=problems(503))
async def select_agents(body: SelectIn, who: Admin, desk: Desk, request: Request) -> list[AgentOut]:
    """Enable exactly the listed agents and disable the others."""
    chosen = {known_agent(desk, agent_id, "agents") for agent_id in body.agents}
    for agent_id in desk.agents:
        wanted = agent_id in chosen
        if desk.configs[agent_id].enabled != wanted:
            configure(desk, agent_id, who.username, {"enabled": wanted})
    audit(request, who.username, "agents.select", "agents", {"enabled": sorted(chosen)})
    return [describe(desk, agent_id) for agent_id in desk.agents]


@router.get("/{agent_id}", response_model=AgentOut, responses=problems(404, 503))
async def get_agent(agent_id: str, _: Viewer, desk: Desk) -> AgentOut:
    return describe(desk, agent_id)


@router.post("/{agent_id}/enable", response_model=AgentOut, responses=problems(404, 503))
async def enable_agent(
    agent_id: str, body: EnableIn, who: Admin, desk: Desk, request: Request
) -> AgentOut:
    agent_of(desk, agent_id)
    configure(desk, agent_id, who.username, {"enabled": body.enabled})
    audit(request, who.username, "agents.enable", agent_id, {"enabled": body.enabled})
    return describe(desk, agent_id)


@router.put("/{agent_id}/config", response_model=AgentOut, responses=problems(404, 503))
async def configure_agent(
    agent_id: str, body: AgentConfigIn, who: Admin, desk: Desk, request: Request
) -> AgentOut:
    agent_of(desk, agent_id)
    changes: dict[str, Any] = {}
    if body.enabled is not None:
        changes["enabled"] = body.enabled
    if body.risk_budget_pct is not None:
        changes["risk_budget_pct"] = body.risk_budget_pct
    if body.instruments is not None:
        changes["instruments"] = tuple(instrument_of(desk, i).id for i in body.instruments)
    if body.strategies is not None:
        changes["strategies"] = tuple(body.strategies)
    if body.params is not None:
        changes["params"] = dict(body.params)
    config = configure(desk, agent_id, who.username, changes)
    audit(request, who.username, "agents.configure", agent_id, config.as_dict())
    return describe(desk, agent_id)


@router.get("/{agent_id}/state", response_model=dict[str, Any], responses=problems(404, 503))
async def get_state(agent_id: str, _: Viewer, desk: Desk) -> dict[str, Any]:
    return dict(agent_of(desk, agent_id).get_state())


@router.patch("/{agent_id}/state", response_model=dict[str, Any], responses=problems(404, 503))
async def patch_state(
    agent_id: str, body: AgentStateIn, who: Admin, desk: Desk, request: Request
) -> dict[str, Any]:
    agent = agent_of(desk, agent_id)
    changes = body.model_dump(exclude_none=True)
    try:
        desk.update_state(agent_id, who.username, changes)
    except ValueError as exc:
        raise ApiProblem(
            422, "invalid_agent_state", "The state change is not valid", str(exc)
        ) from None
    audit(request, who.username, "agents.state", agent_id, changes)
    return dict(agent.get_state())


@router.get("/{agent_id}/performance", response_model=PerformanceOut, responses=problems(404, 503))
async def performance(agent_id: str, _: Viewer, desk: Desk) -> PerformanceOut:
    agent_of(desk, agent_id)
    return PerformanceOut.model_validate({"agent_id": agent_id, **desk.performance(agent_id)})


@router.get("/{agent_id}/analysis", response_model=AnalysisOut, responses=problems(404, 503))
async def analysis(
    agent_id: str,
    _: Viewer,
    desk: Desk,
    instrument_id: Annotated[str, Query(min_length=3, max_length=100)],
) -> AnalysisOut:
    """The agent's view of an instrument in plain words (Spot's explanations live here)."""
    agent = agent_of(desk, agent_id)
    instrument_of(desk, instrument_id, 404)
    result = agent.analyze_market(instrument_id)
    data = {**result.as_dict(), "agent_id": agent_id, "explanation": agent.explain(result)}
    return AnalysisOut.model_validate(data)


@router.post("/{agent_id}/propose", response_model=ProposeOut, responses=problems(404, 409, 503))
async def propose(
    agent_id: str, body: ProposeIn, who: Trader, desk: Desk, request: Request
) -> ProposeOut:
    """Ask the agent for a proposal on an instrument and put it to the vote; none is null."""
    agent = agent_of(desk, agent_id)
    instrument_of(desk, body.instrument_id)
    if agent.paused:
        raise ApiProblem(409, "agent_paused", "The agent is paused", f"{agent_id} proposes nothing")
    proposal = agent.propose_action(body.instrument_id)
    if proposal is None:
        return ProposeOut(proposal=None)
    record = desk.coordinator.submit(proposal, decide=body.decide)
    audit(request, who.username, "agents.propose", record.proposal_id,
          {"agent_id": agent_id, "instrument_id": body.instrument_id, "status": record.status})  # fmt: skip
    return ProposeOut(proposal=ProposalOut.of(record))
