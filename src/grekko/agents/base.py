"""What every agent does the same way: analyse, vote, propose, execute, keep its state.

The three agents differ in a few class attributes (type, veto threshold, default strategies) and
in how they talk; the autonomy tiers themselves are enforced by the coordinator and the risk
engine, never by the agent, so a subclass cannot talk its way past them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from grekko.agents.analysis import Analysis
from grekko.agents.hosting import submit_leg
from grekko.domain.agents import (
    PROFILES,
    AgentMessage,
    AgentType,
    MessageType,
    ProposalLeg,
    ProposalType,
    TradingProposal,
    Vote,
)
from grekko.domain.enums import OrderSide

if TYPE_CHECKING:
    from grekko.agents.desk import AgentDesk

MUTABLE_STATE = ("veto", "notes", "paused")


class BaseAgent:
    name: ClassVar[str] = "agent"
    agent_type: ClassVar[AgentType] = AgentType.SPOT
    capabilities: ClassVar[frozenset[str]] = frozenset({"analyze", "vote"})
    default_strategies: ClassVar[tuple[str, ...]] = ()
    default_running: ClassVar[tuple[str, ...]] = ()
    default_veto: ClassVar[float] = 0.3  # votes no when the analysis opposes the trade this much

    def __init__(self, agent_id: str | None = None) -> None:
        self.agent_id: str = agent_id or self.name
        self.veto = self.default_veto
        self.notes = ""
        self.paused = False  # a paused agent still votes but proposes nothing
        self.desk: AgentDesk | None = None
        self.proposals_made = 0
        self.votes_cast = 0
        self.messages_received = 0
        self.last_results: list[dict[str, object]] = []

    # ---- plugin lifecycle (entry-point group grekko.agents) ------------------------------------
    def initialize(self, ctx: Any) -> None:
        desk = ctx.extras.get("agents")
        if desk is None:
            raise ValueError(f"{self.name}: the plugin context has no agent desk in extras")
        self.desk = desk

    def activate(self) -> None:
        self._desk().join(self)

    def deactivate(self) -> None:
        self._desk().leave(self.agent_id)

    def dispose(self) -> None:
        self.desk = None

    def _desk(self) -> AgentDesk:
        if self.desk is None:
            raise RuntimeError(f"agent {self.agent_id} is not initialized")
        return self.desk

    # ---- TradingAgent --------------------------------------------------------------------------
    def analyze_market(self, instrument_id: str) -> Analysis:
        return self._desk().market.analysis(instrument_id)

    def explain(self, analysis: Analysis) -> str:
        return analysis.explanation

    def propose_action(self, instrument_id: str) -> TradingProposal | None:
        """A proposal from the analysis alone: buy when bullish and flat, sell when bearish and
        long, else hold. Hosted strategies propose on their own through `propose_order`."""
        desk = self._desk()
        analysis = self.analyze_market(instrument_id)
        held = desk.access.position(instrument_id)
        kind, quantity = ProposalType.HOLD, Decimal(0)
        if analysis.stance == "bullish" and held <= 0:
            kind, quantity = ProposalType.BUY, desk.budget_quantity(self.agent_id, instrument_id)
        elif analysis.stance == "bearish" and held > 0:
            kind, quantity = ProposalType.SELL, held
        if kind is not ProposalType.HOLD and quantity <= 0:
            kind = ProposalType.HOLD
        return desk.new_proposal(
            self.agent_id,
            kind,
            instrument_id,
            quantity,
            strategy="analysis",
            rationale=self.explain(analysis),
        )

    def propose_order(self, strategy: str, leg: ProposalLeg, rationale: str) -> str | None:
        """A hosted strategy wants to place an order: propose it; the order id if it executed."""
        if self.paused:
            return None
        desk = self._desk()
        kind = ProposalType.BUY if leg.side is OrderSide.BUY else ProposalType.SELL
        if self._already_waiting(strategy, leg.instrument_id, kind):
            return None  # the user has not answered the same trade yet: do not ask twice
        proposal = desk.new_proposal(
            self.agent_id,
            kind,
            leg.instrument_id,
            leg.quantity,
            strategy=strategy,
            rationale=rationale or f"{strategy} signal",
            order_type=leg.order_type,
            price_target=leg.price,
        )
        self.proposals_made += 1
        record = desk.coordinator.submit(proposal)
        return record.client_order_ids[0] if record.client_order_ids else None

    def _already_waiting(self, strategy: str, instrument_id: str, kind: ProposalType) -> bool:
        return any(
            r.proposal.proposer == self.agent_id
            and r.proposal.strategy == strategy
            and r.proposal.instrument_id == instrument_id
            and r.proposal.proposal_type is kind
            for r in self._desk().coordinator.ledger.pending.values()
        )

    def vote_on_proposal(self, proposal: TradingProposal) -> Vote:
        self.votes_cast += 1
        approve, reason = self.judge(proposal)
        weight = PROFILES[self.agent_type].vote_weight
        return Vote(
            proposal_id=proposal.proposal_id,
            agent_id=self.agent_id,
            approve=approve,
            weight=weight,
            reason=reason,
        )

    def judge(self, proposal: TradingProposal) -> tuple[bool, str]:
        if proposal.proposer == self.agent_id:
            return True, f"my own proposal: {proposal.rationale}"
        if proposal.proposal_type is ProposalType.HOLD:
            return True, "holding changes nothing"
        legs = proposal.orders()
        verdicts = [self._judge_leg(leg) for leg in legs]
        approve = all(ok for ok, _ in verdicts)
        return approve, " ".join(text for _, text in verdicts)

    def _judge_leg(self, leg: ProposalLeg) -> tuple[bool, str]:
        desk = self._desk()
        held = desk.access.position(leg.instrument_id)
        if leg.side is OrderSide.SELL and 0 < leg.quantity <= held:
            return True, "it takes risk off: selling what we hold."
        analysis = self.analyze_market(leg.instrument_id)
        alignment = analysis.score * (1 if leg.side is OrderSide.BUY else -1)
        approve = alignment > -self.veto
        return approve, self.vote_reason(leg, analysis, approve)

    def vote_reason(self, leg: ProposalLeg, analysis: Analysis, approve: bool) -> str:
        verb = "agree" if approve else "disagree"
        return (
            f"I {verb} with a {leg.side} of {leg.instrument_id}: my view is {analysis.stance} "
            f"(score {analysis.score:+.2f}, veto below {-self.veto:+.2f})."
        )

    def execute_action(self, proposal: TradingProposal, quantity: Decimal) -> list[str]:
        desk = self._desk()
        legs = proposal.orders()
        ids: list[str] = []
        for leg in legs:
            ctx = desk.context_for(self.agent_id, proposal.strategy, leg.instrument_id)
            qty = quantity if len(legs) == 1 else leg.quantity
            oid = submit_leg(ctx, leg, qty)
            if oid is not None:
                ids.append(oid)
        return ids

    def on_message(self, message: AgentMessage) -> None:
        self.messages_received += 1
        if message.message_type is MessageType.EXECUTION_RESULT:
            self.last_results = [dict(message.payload), *self.last_results[:19]]

    def get_state(self) -> Mapping[str, Any]:
        profile = PROFILES[self.agent_type]
        return {
            "agent_id": self.agent_id,
            "agent_type": str(self.agent_type),
            "title": profile.title,
            "autonomy": profile.autonomy,
            "vote_weight": profile.vote_weight,
            "capabilities": sorted(self.capabilities),
            "veto": self.veto,
            "notes": self.notes,
            "paused": self.paused,
            "proposals_made": self.proposals_made,
            "votes_cast": self.votes_cast,
            "messages_received": self.messages_received,
            "last_results": self.last_results[:5],
        }

    def update_state(self, changes: Mapping[str, Any]) -> None:
        unknown = sorted(set(changes) - set(MUTABLE_STATE))
        if unknown:
            raise ValueError(f"cannot change {unknown}; changeable: {list(MUTABLE_STATE)}")
        if "veto" in changes:
            veto = float(changes["veto"])
            if not 0.0 <= veto <= 1.0:
                raise ValueError(f"veto must be within 0..1, got {veto}")
            self.veto = veto
        if "notes" in changes:
            self.notes = str(changes["notes"])[:2000]
        if "paused" in changes:
            if not isinstance(changes["paused"], bool):
                raise ValueError("paused must be true or false")
            self.paused = changes["paused"]
