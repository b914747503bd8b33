"""The coordinator: broadcast a proposal, gather weighted votes, decide, confirm, execute.

A round: the proposal is broadcast; every active agent votes within the timeout (a missing, late
or failing vote counts as no); it passes at >= 60 % of the active agents' total weight; an
approved quantity that exceeds the proposer's per-trade budget is cut to fit (MODIFIED); Gordo's
trades then wait for the user; the proposer executes through its own trading context, whose
orders the risk engine checks against the same per-agent caps; each order's outcome is stored
and broadcast to every agent.

Events of a round are appended before anything is executed, so a crash never leaves an order
without the decision that allowed it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from grekko.agents.judgement import judge
from grekko.agents.ledger import ProposalLedger, ProposalRecord
from grekko.agents.messaging import Messenger
from grekko.core.errors import DataError
from grekko.core.time import NS_PER_S, Clock
from grekko.domain.agents import (
    PROFILES,
    VOTE_TIMEOUT_S,
    AgentType,
    Decision,
    MessageType,
    Priority,
    TradingProposal,
    Vote,
    check_proposal,
    tally,
)
from grekko.domain.events import (
    ConfirmationRequested,
    Event,
    ProposalConfirmed,
    ProposalDecided,
    ProposalDeclined,
    ProposalExecuted,
    ProposalSubmitted,
    VoteCast,
)
from grekko.domain.risk import AgentLimit
from grekko.ports.agents import KernelAccess, TradingAgent
from grekko.ports.event_store import EventStore

log = logging.getLogger("grekko.agents.coordinator")

PROPOSAL_STREAM = "agents.proposals"
CONFIRMATION_TTL_NS = 120 * NS_PER_S


class ProposalError(DataError):
    """A proposal, vote or confirmation the coordinator cannot take; the message says why."""


@dataclass
class Seat:
    agent: TradingAgent
    limit: AgentLimit
    enabled: bool = True

    @property
    def weight(self) -> int:
        return PROFILES[self.agent.agent_type].vote_weight


class Coordinator:
    def __init__(
        self,
        access: KernelAccess,
        store: EventStore,
        messenger: Messenger,
        *,
        vote_timeout_s: float | None = VOTE_TIMEOUT_S,
        auto_confirm: bool = False,
        confirmation_ttl_ns: int = CONFIRMATION_TTL_NS,
        confirmation_clock: Clock | None = None,
    ) -> None:
        self.access = access
        self.store = store
        self.messenger = messenger
        self.vote_timeout_s = vote_timeout_s  # None: no timeout (backtests stay deterministic)
        self.auto_confirm = auto_confirm  # only backtests stand in for the user
        self.confirmation_ttl_ns = confirmation_ttl_ns
        # people vote from outside and confirm in wall time, even when a replay runs market
        # time faster: the voting window of an open proposal and confirmations use this clock
        self.confirmation_clock: Clock = confirmation_clock or access.clock
        self._opened: dict[str, int] = {}  # open proposal -> when its window opened (that clock)
        self.seats: dict[str, Seat] = {}
        self.ledger = ProposalLedger()
        self.rounds = 0
        self._outbox: list[Event] = []
        self.executing: str | None = None

    # ---- the table -------------------------------------------------------------------------
    def seat(self, agent: TradingAgent, limit: AgentLimit, *, enabled: bool = True) -> None:
        if limit.agent_id != agent.agent_id:
            raise ValueError(f"limit for {limit.agent_id} given to agent {agent.agent_id}")
        self.seats[agent.agent_id] = Seat(agent, limit, enabled)
        self.access.set_agent_limit(limit)
        self.messenger.subscribe(agent.agent_id, agent.on_message)

    def unseat(self, agent_id: str) -> None:
        seat = self.seats.pop(agent_id)
        self.messenger.unsubscribe(agent_id, seat.agent.on_message)
        self.access.set_agent_limit(AgentLimit(agent_id, seat.agent.agent_type, Decimal(0)))

    def set_enabled(self, agent_id: str, enabled: bool) -> None:
        self._seat(agent_id).enabled = enabled

    def set_limit(self, limit: AgentLimit) -> None:
        self._seat(limit.agent_id).limit = limit
        self.access.set_agent_limit(limit)

    def active_weights(self) -> dict[str, int]:
        return {aid: s.weight for aid, s in self.seats.items() if s.enabled}

    def _seat(self, agent_id: str) -> Seat:
        seat = self.seats.get(agent_id)
        if seat is None:
            raise ProposalError(f"unknown agent {agent_id!r}; agents: {', '.join(self.seats)}")
        return seat

    # ---- a round ---------------------------------------------------------------------------
    def submit(self, proposal: TradingProposal, *, decide: bool = True) -> ProposalRecord:
        """Open a proposal; with decide, run the whole round now and return its record."""
        problem = check_proposal(proposal)
        if problem is not None:
            raise ProposalError(problem)
        if self.ledger.get(proposal.proposal_id) is not None:
            raise ProposalError(f"proposal {proposal.proposal_id} exists already")
        self._seat(proposal.proposer)
        now = self.access.clock.timestamp_ns()
        if not proposal.created_ns:
            proposal = _with_created(proposal, now)
        self._emit(
            ProposalSubmitted(ts_event=now, proposal_id=proposal.proposal_id, proposal=proposal)
        )
        self.messenger.broadcast(
            MessageType.TRADING_PROPOSAL,
            proposal.proposer,
            {
                "proposal_id": proposal.proposal_id,
                "proposal_type": str(proposal.proposal_type),
                "instrument_id": proposal.instrument_id,
                "quantity": str(proposal.quantity),
            },
        )
        record = self._record(proposal.proposal_id)
        if decide:
            self._decide(record)
        else:
            self._opened[proposal.proposal_id] = self.confirmation_clock.timestamp_ns()
            self._flush()
        return record

    def cast_vote(self, proposal_id: str, agent_id: str, approve: bool, reason: str) -> Vote:
        """A vote from outside the round (the API), accepted while the proposal is open."""
        record = self._record(proposal_id)
        seat = self._seat(agent_id)
        if record.status != "voting":
            raise ProposalError(f"proposal {proposal_id} is {record.status}; voting is closed")
        if any(v.agent_id == agent_id for v in record.votes):
            raise ProposalError(f"{agent_id} has voted on {proposal_id} already")
        now = self.access.clock.timestamp_ns()
        late = self._window_closed(record)
        vote = Vote(
            proposal_id=proposal_id,
            agent_id=agent_id,
            approve=approve and not late,
            weight=seat.weight,
            ts_ns=now,
            counted_as_no=late,
            reason=f"late: {reason}" if late else reason,
        )
        self._emit(VoteCast(ts_event=now, proposal_id=proposal_id, vote=vote))
        self._flush()
        return vote

    def request_consensus(self, proposal_id: str) -> ProposalRecord:
        """Close an open proposal: ask the agents that have not voted, then decide."""
        record = self._record(proposal_id)
        if record.status != "voting":
            raise ProposalError(f"proposal {proposal_id} is {record.status}, not open for votes")
        self._decide(record)
        return record

    def _window_closed(self, record: ProposalRecord) -> bool:
        if self.vote_timeout_s is None:
            return False
        opened = self._opened.get(record.proposal_id)
        if opened is None:
            return True  # opened before a restart: its window is long gone
        elapsed = self.confirmation_clock.timestamp_ns() - opened
        return elapsed > int(self.vote_timeout_s * NS_PER_S)

    def _decide(self, record: ProposalRecord) -> None:
        self.rounds += 1
        self._opened.pop(record.proposal_id, None)
        self._collect_votes(record)
        p = record.proposal
        result = tally(record.votes, self.active_weights(), p.required_share)
        seat = self._seat(p.proposer)
        decision, quantity, reason = judge(
            p, seat.limit, result.approved, result.share, self.access
        )
        now = self.access.clock.timestamp_ns()
        self._emit(
            ProposalDecided(
                ts_event=now,
                proposal_id=p.proposal_id,
                decision=decision,
                yes_weight=result.yes_weight,
                total_weight=result.total_weight,
                quantity=quantity,
                reason=reason,
            )
        )
        if decision is Decision.REJECTED or not p.orders():
            self._flush()
            return
        if PROFILES[seat.agent.agent_type].needs_confirmation:
            if not self.auto_confirm:
                self._ask_user(p, now)
                return
            self._emit(
                ProposalConfirmed(
                    ts_event=now, proposal_id=p.proposal_id, confirmed_by="auto-confirm (backtest)"
                )
            )
        self._flush()  # the decision is stored before any order exists
        self._execute(record)

    def _ask_user(self, p: TradingProposal, now: int) -> None:
        expires = self.confirmation_clock.timestamp_ns() + self.confirmation_ttl_ns
        self._emit(
            ConfirmationRequested(
                ts_event=now, proposal_id=p.proposal_id, agent_id=p.proposer, expires_ns=expires
            )
        )
        self._flush()
        self.messenger.send(
            MessageType.COORDINATION_REQUEST,
            "coordinator",
            p.proposer,
            {"proposal_id": p.proposal_id, "awaiting": "user confirmation", "expires_ns": expires},
            Priority.HIGH,
        )

    def _collect_votes(self, record: ProposalRecord) -> None:
        voted = {v.agent_id for v in record.votes}
        for agent_id, seat in self.seats.items():
            if not seat.enabled or agent_id in voted:
                continue
            self._emit(
                VoteCast(
                    ts_event=self.access.clock.timestamp_ns(),
                    proposal_id=record.proposal_id,
                    vote=self._ask(seat, record.proposal),
                )
            )

    def _ask(self, seat: Seat, proposal: TradingProposal) -> Vote:
        agent_id = seat.agent.agent_id
        started = time.perf_counter()
        try:
            vote = seat.agent.vote_on_proposal(proposal)
        except Exception as exc:
            log.exception("agent %s failed to vote on %s", agent_id, proposal.proposal_id)
            return self._no(seat, proposal, f"no vote: the agent failed ({exc!r})")
        took = time.perf_counter() - started
        if self.vote_timeout_s is not None and took > self.vote_timeout_s:
            return self._no(
                seat,
                proposal,
                f"no vote within {self.vote_timeout_s * 1000:.0f} ms (took {took * 1000:.0f} ms)",
            )
        if not isinstance(vote, Vote) or vote.agent_id != agent_id:
            return self._no(seat, proposal, "no vote: the agent answered with something else")
        # the weight is the seat's, whatever the agent claims
        return Vote(
            proposal_id=proposal.proposal_id,
            agent_id=agent_id,
            approve=vote.approve,
            weight=seat.weight,
            reason=vote.reason,
            ts_ns=self.access.clock.timestamp_ns(),
        )

    def _no(self, seat: Seat, proposal: TradingProposal, reason: str) -> Vote:
        return Vote(
            proposal_id=proposal.proposal_id,
            agent_id=seat.agent.agent_id,
            approve=False,
            weight=seat.weight,
            reason=reason,
            ts_ns=self.access.clock.timestamp_ns(),
            counted_as_no=True,
        )

    # ---- confirmations -----------------------------------------------------------------------
    def confirm(self, proposal_id: str, confirmed_by: str) -> ProposalRecord:
        record = self._awaiting(proposal_id)
        now = self.access.clock.timestamp_ns()
        deadline = record.confirmation_expires_ns
        if deadline is not None and self.confirmation_clock.timestamp_ns() > deadline:
            self.expire_due()
            raise ProposalError(f"proposal {proposal_id}'s confirmation expired")
        if record.proposal.expires_ns and now > record.proposal.expires_ns:
            self._emit(
                ProposalDeclined(
                    ts_event=now,
                    proposal_id=proposal_id,
                    declined_by="expiry",
                    reason="the proposal expired",
                )
            )
            self._flush()
            self._announce(record, "expired")
            raise ProposalError(f"proposal {proposal_id}'s confirmation expired")
        self._emit(
            ProposalConfirmed(ts_event=now, proposal_id=proposal_id, confirmed_by=confirmed_by)
        )
        self._flush()
        self._execute(record)
        return record

    def decline(self, proposal_id: str, declined_by: str, reason: str = "") -> ProposalRecord:
        record = self._awaiting(proposal_id)
        self._emit(
            ProposalDeclined(
                ts_event=self.access.clock.timestamp_ns(),
                proposal_id=proposal_id,
                declined_by=declined_by,
                reason=reason or "rejected by the user",
            )
        )
        self._flush()
        self._announce(record, "declined")
        return record

    def expire_due(self, now_ns: int | None = None) -> list[str]:
        """Expire confirmations whose time ran out; returns their proposal ids."""
        now = self.confirmation_clock.timestamp_ns() if now_ns is None else now_ns
        due = [
            r
            for r in self.ledger.pending.values()
            if r.confirmation_expires_ns is not None and now > r.confirmation_expires_ns
        ]
        for record in due:
            self._emit(
                ProposalDeclined(
                    ts_event=now,
                    proposal_id=record.proposal_id,
                    declined_by="expiry",
                    reason="confirmation expired",
                )
            )
        self._flush()
        for record in due:
            self._announce(record, "expired")
        return [r.proposal_id for r in due]

    def _awaiting(self, proposal_id: str) -> ProposalRecord:
        record = self._record(proposal_id)
        if record.status != "awaiting_confirmation":
            raise ProposalError(
                f"proposal {proposal_id} is {record.status}, not awaiting confirmation"
            )
        return record

    # ---- execution ---------------------------------------------------------------------------
    def _execute(self, record: ProposalRecord) -> None:
        p = record.proposal
        seat = self._seat(p.proposer)
        quantity = record.approved_quantity or p.quantity
        reason = ""
        self.executing = p.proposal_id
        try:
            order_ids = tuple(seat.agent.execute_action(p, quantity))
        except Exception as exc:
            log.exception("agent %s failed to execute %s", p.proposer, p.proposal_id)
            order_ids, reason = (), f"execution failed: {exc!r}"
        finally:
            self.executing = None
        if not order_ids and not reason:
            reason = "the agent placed no order"
        self._emit(
            ProposalExecuted(
                ts_event=self.access.clock.timestamp_ns(),
                proposal_id=p.proposal_id,
                client_order_ids=order_ids,
                reason=reason,
            )
        )
        self._flush()
        self._announce(record, "executed" if order_ids else "not executed")

    def _announce(self, record: ProposalRecord, what: str) -> None:
        self.messenger.broadcast(
            MessageType.EXECUTION_RESULT,
            "coordinator",
            {
                "proposal_id": record.proposal_id,
                "result": what,
                "status": record.status,
                "client_order_ids": list(record.client_order_ids),
            },
        )

    # ---- events ------------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        """The ledger (in memory) sees the event at once; the store gets it at the next flush,
        which every path reaches before anything is executed or returned."""
        self._outbox.append(event)
        self.ledger.apply(event)

    def _flush(self) -> None:
        if not self._outbox:
            return
        events, self._outbox = self._outbox, []
        self.store.append(PROPOSAL_STREAM, events)

    def record_outcome(self, event: Event) -> None:
        """Store an order outcome event produced by the outcome tracker."""
        self._emit(event)
        self._flush()

    def _record(self, proposal_id: str) -> ProposalRecord:
        record = self.ledger.get(proposal_id)
        if record is None:
            raise ProposalError(f"no proposal {proposal_id!r}")
        return record

    def rebuild(self) -> int:
        """Rebuild the ledger from the stored proposal events; returns how many were read."""
        records = self.store.read(PROPOSAL_STREAM)
        for recorded in records:
            self.ledger.apply(recorded.event)
        return len(records)

    def state(self) -> Mapping[str, Any]:
        return {
            "rounds": self.rounds,
            "agents": {
                aid: {
                    "enabled": s.enabled,
                    "weight": s.weight,
                    "type": str(s.agent.agent_type),
                    "max_trade_pct": str(s.limit.max_trade_pct),
                }
                for aid, s in self.seats.items()
            },
            "pending_confirmations": len(self.ledger.pending),
        }


def _with_created(p: TradingProposal, now: int) -> TradingProposal:
    return msgspec.structs.replace(p, created_ns=now)


__all__ = ["PROPOSAL_STREAM", "AgentType", "Coordinator", "ProposalError", "Seat"]
