"""Spot: advisory and educational. It explains the market in plain words, votes, never trades."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from grekko.agents.analysis import Analysis
from grekko.agents.base import BaseAgent
from grekko.domain.agents import AgentType, MessageType, ProposalLeg, TradingProposal


class Spot(BaseAgent):
    name: ClassVar[str] = "spot"
    agent_type: ClassVar[AgentType] = AgentType.SPOT
    capabilities: ClassVar[frozenset[str]] = frozenset({"analyze", "explain", "vote"})
    default_veto: ClassVar[float] = 0.2

    def __init__(self, agent_id: str | None = None) -> None:
        super().__init__(agent_id)
        self._stances: dict[str, str] = {}
        self.explanations_sent = 0

    def propose_action(self, instrument_id: str) -> TradingProposal | None:
        return None  # Spot advises; its product is the explanation, not a trade

    def propose_order(self, strategy: str, leg: ProposalLeg, rationale: str) -> str | None:
        return None

    def execute_action(self, proposal: TradingProposal, quantity: Decimal) -> list[str]:
        raise PermissionError("Spot is advisory: it never trades")

    def observe(self, instrument_id: str) -> None:
        """Tell everyone when the view of an instrument changes, in words a beginner follows."""
        analysis = self.analyze_market(instrument_id)
        if not analysis.signals or self._stances.get(instrument_id) == analysis.stance:
            return
        self._stances[instrument_id] = analysis.stance
        self.explanations_sent += 1
        self._desk().messenger.broadcast(
            MessageType.MARKET_ANALYSIS,
            self.agent_id,
            {
                "instrument_id": instrument_id,
                "stance": analysis.stance,
                "score": round(analysis.score, 4),
                "explanation": self.explain(analysis),
            },
        )

    def vote_reason(self, leg: ProposalLeg, analysis: Analysis, approve: bool) -> str:
        strongest = max(analysis.signals, key=lambda s: abs(s.direction), default=None)
        lead = (
            f"Yes to this {leg.side}: the market looks {analysis.stance}, so the trade does not "
            "fight it."
            if approve
            else f"No to this {leg.side}: the market looks {analysis.stance}, which argues "
            "against it."
        )
        if strongest is None:
            return f"{lead} There is little data yet, so treat any view with caution."
        return f"{lead} The strongest sign: {strongest.what} {strongest.why_now}"

    def get_state(self) -> dict[str, object]:
        state = dict(super().get_state())
        state["explanations_sent"] = self.explanations_sent
        state["views"] = dict(self._stances)
        return state
