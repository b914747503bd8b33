"""The proposals' read model: each proposal with its votes, decision, confirmation and outcome.

Built only from the stored proposal events (`apply`), so replaying the event store after a
restart rebuilds it exactly; the API's audit queries read it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from grekko.domain.agents import Decision, TradingProposal, Vote
from grekko.domain.events import (
    ConfirmationRequested,
    Event,
    ProposalConfirmed,
    ProposalDecided,
    ProposalDeclined,
    ProposalExecuted,
    ProposalOutcome,
    ProposalSubmitted,
    VoteCast,
)


@dataclass
class ProposalRecord:
    proposal: TradingProposal
    submitted_ns: int
    status: str = "voting"
    votes: list[Vote] = field(default_factory=list)
    decision: Decision | None = None
    decision_reason: str = ""
    yes_weight: int = 0
    total_weight: int = 0
    approved_quantity: Decimal | None = None
    decided_ns: int | None = None
    confirmation_expires_ns: int | None = None
    confirmed_by: str | None = None
    declined: str | None = None
    client_order_ids: tuple[str, ...] = ()
    outcomes: dict[str, ProposalOutcome] = field(default_factory=dict)

    @property
    def proposal_id(self) -> str:
        return self.proposal.proposal_id

    def as_dict(self) -> dict[str, object]:
        p = self.proposal
        return {
            "proposal_id": p.proposal_id,
            "proposer": p.proposer,
            "proposal_type": str(p.proposal_type),
            "instrument_id": p.instrument_id,
            "quantity": str(p.quantity),
            "order_type": str(p.order_type),
            "price_target": None if p.price_target is None else str(p.price_target),
            "timeframe": p.timeframe,
            "rationale": p.rationale,
            "risk_assessment": p.risk_assessment,
            "strategy": p.strategy,
            "required_share": str(p.required_share),
            "expires_ns": p.expires_ns,
            "submitted_ns": self.submitted_ns,
            "status": self.status,
            "votes": [
                {
                    "agent_id": v.agent_id,
                    "approve": v.approve,
                    "weight": v.weight,
                    "reason": v.reason,
                    "counted_as_no": v.counted_as_no,
                }
                for v in self.votes
            ],
            "decision": None if self.decision is None else str(self.decision),
            "decision_reason": self.decision_reason,
            "yes_weight": self.yes_weight,
            "total_weight": self.total_weight,
            "approved_quantity": None
            if self.approved_quantity is None
            else str(self.approved_quantity),
            "decided_ns": self.decided_ns,
            "confirmation_expires_ns": self.confirmation_expires_ns,
            "confirmed_by": self.confirmed_by,
            "declined": self.declined,
            "client_order_ids": list(self.client_order_ids),
            "outcomes": [
                {
                    "client_order_id": o.client_order_id,
                    "status": o.status,
                    "reason": o.reason,
                    "filled_qty": str(o.filled_qty),
                    "avg_px": None if o.avg_px is None else str(o.avg_px),
                }
                for o in self.outcomes.values()
            ],
        }


class ProposalLedger:
    def __init__(self, keep: int = 100_000) -> None:
        self._keep = keep
        self.records: OrderedDict[str, ProposalRecord] = OrderedDict()
        self.by_order: dict[str, str] = {}
        self.pending: dict[str, ProposalRecord] = {}  # awaiting the user's confirmation

    def get(self, proposal_id: str) -> ProposalRecord | None:
        return self.records.get(proposal_id)

    def apply(self, event: Event) -> None:
        if type(event) is ProposalSubmitted:
            self._add(ProposalRecord(event.proposal, event.ts_event))
            return
        record = self.records.get(getattr(event, "proposal_id", ""))
        if record is None:
            return  # trimmed away, or from before the kept window
        if type(event) is VoteCast:
            record.votes.append(event.vote)
        elif type(event) is ProposalDecided:
            record.decision = event.decision
            record.decision_reason = event.reason
            record.yes_weight = event.yes_weight
            record.total_weight = event.total_weight
            record.approved_quantity = event.quantity
            record.decided_ns = event.ts_event
            record.status = "rejected" if event.decision is Decision.REJECTED else "approved"
        elif type(event) is ConfirmationRequested:
            record.confirmation_expires_ns = event.expires_ns
            record.status = "awaiting_confirmation"
            self.pending[record.proposal_id] = record
        elif type(event) is ProposalConfirmed:
            record.confirmed_by = event.confirmed_by
            record.status = "confirmed"
            self.pending.pop(record.proposal_id, None)
        elif type(event) is ProposalDeclined:
            record.declined = event.reason
            record.status = "expired" if event.declined_by == "expiry" else "declined"
            self.pending.pop(record.proposal_id, None)
        elif type(event) is ProposalExecuted:
            record.client_order_ids = event.client_order_ids
            record.status = "executed" if event.client_order_ids else "not_executed"
            if event.reason:
                record.decision_reason = f"{record.decision_reason}; {event.reason}".strip("; ")
            for oid in event.client_order_ids:
                self.by_order[oid] = record.proposal_id
        elif type(event) is ProposalOutcome:
            record.outcomes[event.client_order_id] = event

    def _add(self, record: ProposalRecord) -> None:
        self.records[record.proposal_id] = record
        while len(self.records) > self._keep:
            _, old = self.records.popitem(last=False)
            self.pending.pop(old.proposal_id, None)
            for oid in old.client_order_ids:
                self.by_order.pop(oid, None)

    def query(
        self,
        *,
        agent_id: str | None = None,
        instrument_id: str | None = None,
        decision: str | None = None,
        status: str | None = None,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int = 100,
    ) -> list[ProposalRecord]:
        """Newest first. agent_id matches the proposer or any voter."""
        out: list[ProposalRecord] = []
        for record in reversed(self.records.values()):
            if since_ns is not None and record.submitted_ns < since_ns:
                continue
            if until_ns is not None and record.submitted_ns > until_ns:
                continue
            if instrument_id is not None and record.proposal.instrument_id != instrument_id:
                continue
            if decision is not None and str(record.decision) != decision:
                continue
            if status is not None and record.status != status:
                continue
            if agent_id is not None and not _involves(record, agent_id):
                continue
            out.append(record)
            if len(out) >= limit:
                break
        return out

    def pending_confirmations(self) -> list[ProposalRecord]:
        return list(self.pending.values())


def _involves(record: ProposalRecord, agent_id: str) -> bool:
    return record.proposal.proposer == agent_id or any(v.agent_id == agent_id for v in record.votes)
