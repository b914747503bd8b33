"""Request and response bodies of the agent desk's API (/api/v1/agents).

Quantities, prices and budgets are exact Decimals (JSON strings or numbers in, strings out);
whether a budget fits an agent type's hard cap is left to AgentConfig, whose message the 422
carries. Proposals go out as the ledger's own record (`ProposalRecord.as_dict`), typed here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from grekko.agents.ledger import ProposalRecord
from grekko.api.schemas import InstrumentIdText, PlainDecimal, PositiveDecimal, Request
from grekko.core.time import NS_PER_S, ns_to_iso
from grekko.domain.agents import AgentMessage, MessageType, Priority

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
AgentId = Name
StrategyName = Name
ParamKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.]+$")]
ParamValue = Annotated[str, Field(max_length=200)]
Sender = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@-]+$")]
Quantity = Annotated[Decimal, Field(ge=0, max_digits=38, decimal_places=18, allow_inf_nan=False)]
BudgetPct = Annotated[Decimal, Field(max_digits=38, decimal_places=18, allow_inf_nan=False)]
OrderTypeText = Literal["market", "limit", "stop_market", "stop_limit"]
MessageTypeText = Literal[
    "market_analysis",
    "trading_proposal",
    "risk_alert",
    "execution_result",
    "coordination_request",
]
PriorityText = Literal["low", "normal", "high", "critical"]


# ---- agents ------------------------------------------------------------------------------------
class EnableIn(Request):
    enabled: bool


class SelectIn(Request):
    agents: list[AgentId] = Field(max_length=50)


class AgentConfigIn(Request):
    """Only the fields sent change; `params` replaces the whole parameter map."""

    enabled: bool | None = None
    risk_budget_pct: BudgetPct | None = None
    instruments: list[InstrumentIdText] | None = Field(None, max_length=100)
    strategies: list[StrategyName] | None = Field(None, max_length=50)
    params: dict[ParamKey, ParamValue] | None = Field(None, max_length=100)


class AgentStateIn(Request):
    veto: float | None = Field(None, allow_inf_nan=False)
    notes: str | None = Field(None, max_length=2000)
    paused: bool | None = None


class AgentConfigOut(BaseModel):
    agent_id: str
    agent_type: str
    enabled: bool
    risk_budget_pct: PlainDecimal
    max_risk_budget_pct: PlainDecimal
    instruments: list[str]
    strategies: list[str]
    running: list[str]
    params: dict[str, str]


class AgentOut(BaseModel):
    agent_id: str
    agent_type: str
    title: str
    autonomy: str
    weight: int
    enabled: bool
    config: AgentConfigOut
    hosted_strategies: list[str]
    state: dict[str, Any]


class PerformanceOut(BaseModel):
    agent_id: str
    fills: int
    turnover: PlainDecimal
    fees: PlainDecimal
    realized_pnl: PlainDecimal
    unrealized_pnl: PlainDecimal
    net_pnl: PlainDecimal
    hit_rate: float | None
    positions: dict[str, PlainDecimal]


class SignalOut(BaseModel):
    name: str
    value: float
    direction: float
    what: str
    why_now: str
    what_changes_it: str


class AnalysisOut(BaseModel):
    agent_id: str
    instrument_id: str
    ts_event: int
    price: float | None
    score: float
    stance: str
    explanation: str
    signals: list[SignalOut]


class ProposeIn(Request):
    instrument_id: InstrumentIdText
    decide: bool = True


# ---- messages ----------------------------------------------------------------------------------
class MessageIn(Request):
    """`sender` defaults to `user:<your name>`; only an admin may speak as an agent."""

    message_type: MessageTypeText
    recipient: AgentId | None = None  # None: broadcast to every agent
    payload: dict[str, Any] = Field(default_factory=dict, max_length=100)
    priority: PriorityText = "normal"
    sender: Sender | None = None


class MessageOut(BaseModel):
    message_id: str
    message_type: str
    sender: str
    recipient: str | None
    priority: str
    ts_ns: int
    time: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, m: AgentMessage) -> MessageOut:
        return cls(
            message_id=m.message_id,
            message_type=str(m.message_type),
            sender=m.sender,
            recipient=m.recipient,
            priority=Priority(m.priority).name.lower(),
            ts_ns=m.ts_ns,
            time=ns_to_iso(m.ts_ns),
            payload=dict(m.payload),
        )


def message_type(text: str) -> MessageType:
    return MessageType(text)


def priority(text: str) -> Priority:
    return Priority[text.upper()]


# ---- proposals ---------------------------------------------------------------------------------
class LegIn(Request):
    instrument_id: InstrumentIdText
    side: Literal["buy", "sell"]
    quantity: PositiveDecimal
    order_type: OrderTypeText = "market"
    price: PositiveDecimal | None = None


class ProposalIn(Request):
    """A proposal made by hand for an agent; `instrument_id` may be left out of a complex one
    (it is then its first leg's)."""

    proposer: AgentId
    proposal_type: Literal["buy", "sell", "hold", "complex"]
    instrument_id: InstrumentIdText | None = None
    quantity: Quantity = Decimal(0)
    order_type: OrderTypeText = "market"
    price_target: PositiveDecimal | None = None
    timeframe: str = Field("", max_length=50)
    rationale: str = Field("", max_length=2000)
    strategy: StrategyName = "manual"
    legs: list[LegIn] = Field(default_factory=list, max_length=10)
    decide: bool = True


class VoteIn(Request):
    agent_id: AgentId
    approve: bool
    reason: str = Field(min_length=1, max_length=500)


class RejectIn(Request):
    reason: str = Field("", max_length=500)


class VoteOut(BaseModel):
    agent_id: str
    approve: bool
    weight: int
    reason: str
    counted_as_no: bool


class OutcomeOut(BaseModel):
    client_order_id: str
    status: str
    reason: str
    filled_qty: PlainDecimal
    avg_px: PlainDecimal | None


class LegOut(BaseModel):
    instrument_id: str
    side: str
    quantity: PlainDecimal
    order_type: str
    price: PlainDecimal | None


class ProposalOut(BaseModel):
    proposal_id: str
    proposer: str
    proposal_type: str
    instrument_id: str
    quantity: PlainDecimal
    order_type: str
    price_target: PlainDecimal | None
    timeframe: str
    rationale: str
    risk_assessment: str
    strategy: str
    required_share: PlainDecimal
    legs: list[LegOut]
    expires_ns: int
    submitted_ns: int
    submitted_at: str
    status: str
    votes: list[VoteOut]
    decision: str | None
    decision_reason: str
    yes_weight: int
    total_weight: int
    approved_quantity: PlainDecimal | None
    decided_ns: int | None
    confirmation_expires_ns: int | None
    confirmed_by: str | None
    declined: str | None
    client_order_ids: list[str]
    outcomes: list[OutcomeOut]

    @classmethod
    def of(cls, record: ProposalRecord) -> ProposalOut:
        data = record.as_dict()
        data["submitted_at"] = ns_to_iso(record.submitted_ns)
        data["legs"] = [
            LegOut(
                instrument_id=leg.instrument_id,
                side=str(leg.side),
                quantity=leg.quantity,
                order_type=str(leg.order_type),
                price=leg.price,
            )
            for leg in record.proposal.legs
        ]
        return cls.model_validate(data)


class ProposeOut(BaseModel):
    proposal: ProposalOut | None


class ConfirmationOut(ProposalOut):
    seconds_left: float

    @classmethod
    def pending(cls, record: ProposalRecord, now_ns: int) -> ConfirmationOut:
        expires = record.confirmation_expires_ns
        left = 0.0 if expires is None else max(0.0, (expires - now_ns) / NS_PER_S)
        return cls.model_validate({**ProposalOut.of(record).model_dump(), "seconds_left": left})
