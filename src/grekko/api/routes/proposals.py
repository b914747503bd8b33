"""Proposals of the agent desk: make one by hand, vote, ask for consensus, confirm or reject
Gordo's trades, and the audit query over every proposal the desk has seen.

Viewers read; traders act. The coordinator decides and the risk engine enforces the agents'
caps: nothing here can approve what the vote or the caps refuse. A proposal the coordinator
cannot take (malformed) is a 422; one in the wrong state for the action (voting closed,
not awaiting confirmation, expired) a 409.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from grekko.agents.coordinator import ProposalError
from grekko.agents.desk import AgentDesk
from grekko.agents.ledger import ProposalRecord
from grekko.api.agent_schemas import (
    ConfirmationOut,
    LegIn,
    ProposalIn,
    ProposalOut,
    RejectIn,
    VoteIn,
    VoteOut,
)
from grekko.api.auth.dependencies import require
from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.routes.agents import Desk, instrument_of, known_agent
from grekko.api.schemas import problems
from grekko.api.services import audit
from grekko.core.time import iso_to_ns
from grekko.domain.agents import ProposalLeg, ProposalType, TradingProposal
from grekko.domain.enums import OrderSide, OrderType

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Trader = Annotated[Principal, Depends(require(Role.TRADER))]
Decision = Annotated[str | None, Query(pattern=r"^(approved|rejected|modified)$")]
Status = Annotated[
    str | None,
    Query(
        pattern=r"^(voting|approved|rejected|awaiting_confirmation|confirmed|declined|expired"
        r"|executed|not_executed)$"
    ),
]
TimeText = Annotated[str | None, Query(min_length=1, max_length=40)]


def _record(desk: AgentDesk, proposal_id: str) -> ProposalRecord:
    record = desk.coordinator.ledger.get(proposal_id)
    if record is None:
        raise ApiProblem(
            404, "unknown_proposal", "Unknown proposal", f"no proposal {proposal_id[:64]!r}"
        )
    return record


def _conflict(exc: ProposalError) -> ApiProblem:
    return ApiProblem(409, "proposal_conflict", "The proposal is not in a state for this", str(exc))


def _time(text: str | None, name: str) -> int | None:
    """ISO 8601 with a zone, or integer nanoseconds since the epoch."""
    if text is None:
        return None
    try:
        return int(text) if text.isdigit() else iso_to_ns(text)
    except ValueError as exc:
        raise ApiProblem(
            422, "invalid_time", "The time is not valid",
            f"{name}: an ISO 8601 time with a zone (e.g. 2021-04-19T00:00:00Z) or nanoseconds: {exc}",
        ) from None  # fmt: skip


def _exact(value: Decimal, step: Decimal, what: str) -> Decimal:
    if value % step:
        raise ApiProblem(
            422, "not_a_multiple", "The amount does not fit the instrument",
            f"{what} {value} is not a multiple of {step}",
        )  # fmt: skip
    return value


def _leg(desk: AgentDesk, leg: LegIn) -> ProposalLeg:
    instrument = instrument_of(desk, leg.instrument_id)
    return ProposalLeg(
        instrument_id=leg.instrument_id,
        side=OrderSide(leg.side),
        quantity=_exact(leg.quantity, instrument.size_increment, "legs: quantity"),
        order_type=OrderType(leg.order_type),
        price=None if leg.price is None else _exact(leg.price, instrument.price_increment, "legs: price"),
    )  # fmt: skip


def build_proposal(desk: AgentDesk, body: ProposalIn, who: Principal) -> TradingProposal:
    """The proposal as an agent would make it (desk ids, the desk's risk assessment)."""
    proposer = known_agent(desk, body.proposer, "proposer")
    kind = ProposalType(body.proposal_type)
    legs = tuple(_leg(desk, leg) for leg in body.legs)
    if kind is not ProposalType.COMPLEX and legs:
        raise ApiProblem(422, "unexpected_legs", "Only a complex proposal has legs")
    iid = body.instrument_id or (legs[0].instrument_id if legs else None)
    if iid is None:
        raise ApiProblem(422, "instrument_required", "The proposal needs an instrument_id")
    instrument = instrument_of(desk, iid)
    quantity = _exact(body.quantity, instrument.size_increment, "quantity")
    price = body.price_target
    if price is not None:
        price = _exact(price, instrument.price_increment, "price_target")
    return TradingProposal(
        proposal_id=desk.next_proposal_id(),
        proposer=proposer,
        proposal_type=kind,
        instrument_id=iid,
        quantity=quantity,
        order_type=OrderType(body.order_type),
        price_target=price,
        timeframe=body.timeframe,
        rationale=body.rationale or f"proposed by hand by {who.username}",
        risk_assessment=desk.risk_assessment(proposer, iid, quantity, price),
        strategy=body.strategy,
        created_ns=desk.access.clock.timestamp_ns(),
        legs=legs,
    )


# ---- reads (the static paths come before /{agent_id} of the agents router) ---------------------
@router.get("/proposals", response_model=list[ProposalOut], responses=problems(503))
async def query_proposals(
    _: Viewer,
    desk: Desk,
    agent_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    instrument_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    decision: Decision = None,
    status: Status = None,
    since: TimeText = None,
    until: TimeText = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ProposalOut]:
    """The audit query, newest first; agent_id matches the proposer or any voter, since and
    until the submission time (market time), both inclusive."""
    found = desk.coordinator.ledger.query(
        agent_id=agent_id,
        instrument_id=instrument_id,
        decision=decision,
        status=status,
        since_ns=_time(since, "since"),
        until_ns=_time(until, "until"),
        limit=limit,
    )
    return [ProposalOut.of(r) for r in found]


@router.get("/confirmations", response_model=list[ConfirmationOut], responses=problems(503))
async def confirmations(_: Viewer, desk: Desk) -> list[ConfirmationOut]:
    """Trades waiting for the user, with the seconds left (wall time); the ones whose time ran
    out are expired first, as the desk would at its next market update."""
    coordinator = desk.coordinator
    coordinator.expire_due()
    now = coordinator.confirmation_clock.timestamp_ns()
    return [ConfirmationOut.pending(r, now) for r in coordinator.ledger.pending_confirmations()]


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, responses=problems(404, 503))
async def get_proposal(proposal_id: str, _: Viewer, desk: Desk) -> ProposalOut:
    return ProposalOut.of(_record(desk, proposal_id))


# ---- actions -------------------------------------------------------------------------------------
@router.post("/proposals", response_model=ProposalOut, status_code=201, responses=problems(503))
async def submit_proposal(
    body: ProposalIn, who: Trader, desk: Desk, request: Request
) -> ProposalOut:
    """Put a proposal to the vote for an agent; with decide (the default) the round runs now."""
    proposal = build_proposal(desk, body, who)
    try:
        record = desk.coordinator.submit(proposal, decide=body.decide)
    except ProposalError as exc:
        raise ApiProblem(422, "invalid_proposal", "The proposal is not valid", str(exc)) from None
    audit(request, who.username, "agents.proposal.submit", record.proposal_id,
          {"proposer": proposal.proposer, "type": str(proposal.proposal_type),
           "instrument_id": proposal.instrument_id, "quantity": str(proposal.quantity),
           "status": record.status})  # fmt: skip
    return ProposalOut.of(record)


@router.post(
    "/proposals/{proposal_id}/votes",
    response_model=VoteOut,
    status_code=201,
    responses=problems(404, 409, 503),
)
async def vote(
    proposal_id: str, body: VoteIn, who: Trader, desk: Desk, request: Request
) -> VoteOut:
    """A vote for an agent while the proposal is open (submitted with decide=false)."""
    _record(desk, proposal_id)
    known_agent(desk, body.agent_id, "agent_id")
    try:
        cast = desk.coordinator.cast_vote(proposal_id, body.agent_id, body.approve, body.reason)
    except ProposalError as exc:
        raise _conflict(exc) from None
    audit(request, who.username, "agents.proposal.vote", proposal_id,
          {"agent_id": body.agent_id, "approve": cast.approve, "reason": cast.reason})  # fmt: skip
    return VoteOut(
        agent_id=cast.agent_id,
        approve=cast.approve,
        weight=cast.weight,
        reason=cast.reason,
        counted_as_no=cast.counted_as_no,
    )


@router.post(
    "/proposals/{proposal_id}/consensus",
    response_model=ProposalOut,
    responses=problems(404, 409, 503),
)
async def consensus(proposal_id: str, who: Trader, desk: Desk, request: Request) -> ProposalOut:
    """Close the vote: the agents that have not voted are asked, then the round is decided."""
    _record(desk, proposal_id)
    try:
        record = desk.coordinator.request_consensus(proposal_id)
    except ProposalError as exc:
        raise _conflict(exc) from None
    audit(
        request, who.username, "agents.proposal.consensus", proposal_id, {"status": record.status}
    )
    return ProposalOut.of(record)


@router.post(
    "/proposals/{proposal_id}/confirm",
    response_model=ProposalOut,
    responses=problems(404, 409, 503),
)
async def confirm(proposal_id: str, who: Trader, desk: Desk, request: Request) -> ProposalOut:
    """Confirm a trade waiting for the user: the proposer executes it now."""
    _record(desk, proposal_id)
    try:
        record = desk.coordinator.confirm(proposal_id, f"user:{who.username}")
    except ProposalError as exc:
        raise _conflict(exc) from None
    audit(request, who.username, "agents.proposal.confirm", proposal_id,
          {"status": record.status, "client_order_ids": list(record.client_order_ids)})  # fmt: skip
    return ProposalOut.of(record)


@router.post(
    "/proposals/{proposal_id}/reject",
    response_model=ProposalOut,
    responses=problems(404, 409, 503),
)
async def reject(
    proposal_id: str, who: Trader, desk: Desk, request: Request, body: RejectIn | None = None
) -> ProposalOut:
    """Turn down a trade waiting for the user; nothing is executed."""
    _record(desk, proposal_id)
    reason = body.reason if body is not None else ""
    try:
        record = desk.coordinator.decline(proposal_id, f"user:{who.username}", reason)
    except ProposalError as exc:
        raise _conflict(exc) from None
    audit(request, who.username, "agents.proposal.reject", proposal_id, {"reason": record.declined})
    return ProposalOut.of(record)
