"""Events: facts, named in the past tense, immutable, appended to the event store before anything reads them."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from grekko.domain.agents import Decision, TradingProposal, Vote
from grekko.domain.enums import (
    LiquiditySide,
    OrderSide,
    OrderType,
    TimeInForce,
    TradingState,
)


class Event(msgspec.Struct, frozen=True, tag=True, kw_only=True):
    ts_event: int


class OrderInitialized(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    post_only: bool = False


class OrderDenied(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    reason: str


class OrderSubmitted(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str


class OrderAccepted(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    venue_order_id: str


class OrderRejected(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    reason: str


class OrderTriggered(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str


class OrderFilled(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    venue_order_id: str
    trade_id: str
    instrument_id: str
    strategy_id: str
    side: OrderSide
    last_qty: Decimal
    last_px: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: LiquiditySide


class OrderCanceled(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str
    reason: str = ""


class OrderExpired(Event, frozen=True, tag=True, kw_only=True):
    client_order_id: str


class AccountFunded(Event, frozen=True, tag=True, kw_only=True):
    """Cash added (positive) or withdrawn (negative) outside trading."""

    account_id: str
    currency: str
    amount: Decimal


class TradingStateChanged(Event, frozen=True, tag=True, kw_only=True):
    state: TradingState
    reason: str


class CircuitBreakerTripped(Event, frozen=True, tag=True, kw_only=True):
    breaker: str  # daily_loss | max_drawdown
    reason: str


class PositionChanged(Event, frozen=True, tag=True, kw_only=True):
    """Derived from fills; published on the bus, never stored (it is a projection)."""

    instrument_id: str
    quantity: Decimal
    avg_px: Decimal
    realized_pnl: Decimal


class AgentEvent(Event, frozen=True, tag=True, kw_only=True):
    """The agents' audit trail: every proposal, vote, decision and outcome, with reasons."""

    proposal_id: str


class ProposalSubmitted(AgentEvent, frozen=True, tag=True, kw_only=True):
    proposal: TradingProposal


class VoteCast(AgentEvent, frozen=True, tag=True, kw_only=True):
    vote: Vote


class ProposalDecided(AgentEvent, frozen=True, tag=True, kw_only=True):
    decision: Decision
    yes_weight: int
    total_weight: int
    quantity: Decimal  # what may execute: cut to the proposer's budget when MODIFIED
    reason: str


class ConfirmationRequested(AgentEvent, frozen=True, tag=True, kw_only=True):
    agent_id: str
    expires_ns: int


class ProposalConfirmed(AgentEvent, frozen=True, tag=True, kw_only=True):
    confirmed_by: str


class ProposalDeclined(AgentEvent, frozen=True, tag=True, kw_only=True):
    """Not executed after approval: the user rejected it, or its confirmation expired."""

    declined_by: str
    reason: str


class ProposalExecuted(AgentEvent, frozen=True, tag=True, kw_only=True):
    client_order_ids: tuple[str, ...]
    reason: str = ""  # why nothing was sent, when client_order_ids is empty


class ProposalOutcome(AgentEvent, frozen=True, tag=True, kw_only=True):
    """What became of one of a proposal's orders: filled, denied by risk, rejected, canceled."""

    client_order_id: str
    status: str
    reason: str = ""
    filled_qty: Decimal = Decimal(0)
    avg_px: Decimal | None = None


class AgentConfigured(Event, frozen=True, tag=True, kw_only=True):
    """An agent's configuration as set by the user; the latest per agent is the one in force."""

    agent_id: str
    enabled: bool
    risk_budget_pct: Decimal
    instruments: tuple[str, ...] = ()
    strategies: tuple[str, ...] = ()
    params: dict[str, str] = msgspec.field(default_factory=dict)
    changed_by: str = ""


class AgentStateChanged(Event, frozen=True, tag=True, kw_only=True):
    """The user changed an agent's own state (veto threshold, notes, paused)."""

    agent_id: str
    changes: dict[str, str | bool | float]
    changed_by: str = ""


ProposalEvent = (
    ProposalSubmitted
    | VoteCast
    | ProposalDecided
    | ConfirmationRequested
    | ProposalConfirmed
    | ProposalDeclined
    | ProposalExecuted
    | ProposalOutcome
)

OrderEvent = (
    OrderInitialized
    | OrderDenied
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderFilled
    | OrderCanceled
    | OrderExpired
)

StoredEvent = (
    OrderEvent
    | AccountFunded
    | TradingStateChanged
    | CircuitBreakerTripped
    | ProposalEvent
    | AgentConfigured
    | AgentStateChanged
)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[StoredEvent] = msgspec.json.Decoder(StoredEvent)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes | str) -> StoredEvent:
    return _decoder.decode(payload)


def event_type_name(event: Event) -> str:
    return type(event).__name__
