"""The agents' shared vocabulary: who they are, what they propose, how votes add up.

Everything here is pure and deterministic: the same proposals and votes give the same decision
in a backtest, in paper trading and in live trading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import IntEnum, StrEnum

import msgspec

from grekko.domain.enums import OrderSide, OrderType

APPROVAL_SHARE = Decimal("0.6")
VOTE_TIMEOUT_S = 0.5
AGENT_ORDER_PREFIX = "agent:"


class AgentType(StrEnum):
    SPOT = "spot"
    GORDO = "gordo"
    GEKKO = "gekko"


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What an agent type may do; the hard cap is the ceiling no configuration can raise."""

    agent_type: AgentType
    title: str
    autonomy: str
    vote_weight: int
    max_trade_pct: Decimal  # of portfolio value per trade; 0 = never trades
    needs_confirmation: bool
    restricted_to_approved_strategies: bool


PROFILES: Mapping[AgentType, AgentProfile] = {
    AgentType.SPOT: AgentProfile(
        AgentType.SPOT,
        "Spot",
        "advisory and educational; never trades",
        1,
        Decimal(0),
        False,
        False,
    ),
    AgentType.GORDO: AgentProfile(
        AgentType.GORDO,
        "Gordo",
        "semi-autonomous: every trade waits for the user's confirmation",
        2,
        Decimal("0.05"),
        True,
        False,
    ),
    AgentType.GEKKO: AgentProfile(
        AgentType.GEKKO,
        "Gordon Gekko",
        "autonomous, only within pre-approved strategies",
        3,
        Decimal("0.02"),
        False,
        True,
    ),
}


class ProposalType(StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"
    COMPLEX = "complex"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    MODIFIED = "modified"


class MessageType(StrEnum):
    MARKET_ANALYSIS = "market_analysis"
    TRADING_PROPOSAL = "trading_proposal"
    RISK_ALERT = "risk_alert"
    EXECUTION_RESULT = "execution_result"
    COORDINATION_REQUEST = "coordination_request"


class Priority(IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


class ProposalLeg(msgspec.Struct, frozen=True, kw_only=True):
    """One order of a complex proposal (a pair trade, a hedge)."""

    instrument_id: str
    side: OrderSide
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None


class TradingProposal(msgspec.Struct, frozen=True, kw_only=True):
    proposal_id: str
    proposer: str  # agent id
    proposal_type: ProposalType
    instrument_id: str  # the asset; for complex proposals the first leg's
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price_target: Decimal | None = None  # a limit or stop price; None = at market
    timeframe: str = ""
    rationale: str = ""
    risk_assessment: str = ""
    strategy: str = "manual"
    required_share: Decimal = APPROVAL_SHARE  # of the active agents' total vote weight
    created_ns: int = 0
    expires_ns: int = 0  # 0 = no expiry
    legs: tuple[ProposalLeg, ...] = ()

    @property
    def side(self) -> OrderSide | None:
        if self.proposal_type is ProposalType.BUY:
            return OrderSide.BUY
        if self.proposal_type is ProposalType.SELL:
            return OrderSide.SELL
        return None

    def orders(self) -> tuple[ProposalLeg, ...]:
        """The orders executing it would place: the legs, or the one order of a buy/sell."""
        if self.proposal_type is ProposalType.COMPLEX:
            return self.legs
        side = self.side
        if side is None:
            return ()
        return (
            ProposalLeg(
                instrument_id=self.instrument_id,
                side=side,
                quantity=self.quantity,
                order_type=self.order_type,
                price=self.price_target,
            ),
        )


def check_proposal(p: TradingProposal) -> str | None:  # noqa: PLR0911 - one rule per return
    """Why a proposal is malformed, or None."""
    if not p.proposal_id or not p.proposer:
        return "a proposal needs an id and a proposer"
    if not Decimal(0) < p.required_share <= 1:
        return f"required_share must be in (0, 1], got {p.required_share}"
    if p.proposal_type is ProposalType.COMPLEX:
        if not p.legs:
            return "a complex proposal needs at least one leg"
        bad = [leg for leg in p.legs if not leg.quantity > 0]
        return "every leg needs a positive quantity" if bad else None
    if p.proposal_type is ProposalType.HOLD:
        return None
    if not p.quantity > 0:
        return f"quantity must be positive, got {p.quantity}"
    if p.order_type is not OrderType.MARKET and p.price_target is None:
        return f"a {p.order_type} proposal needs a price_target"
    if p.price_target is not None and not p.price_target > 0:
        return f"price_target must be positive, got {p.price_target}"
    return None


class Vote(msgspec.Struct, frozen=True, kw_only=True):
    proposal_id: str
    agent_id: str
    approve: bool
    weight: int
    reason: str
    ts_ns: int = 0
    counted_as_no: bool = False  # missing, late or failed: the reason says which


@dataclass(frozen=True, slots=True)
class Tally:
    yes_weight: int
    total_weight: int
    required_share: Decimal

    @property
    def share(self) -> Decimal:
        return Decimal(self.yes_weight) / self.total_weight if self.total_weight else Decimal(0)

    @property
    def approved(self) -> bool:
        # integer arithmetic: 3 of 5 is exactly 60 % and passes
        return self.total_weight > 0 and (
            Decimal(self.yes_weight) >= self.required_share * self.total_weight
        )


def tally(
    votes: Iterable[Vote], active_weights: Mapping[str, int], required_share: Decimal
) -> Tally:
    """Weighted tally over the active agents: a vote from an inactive agent does not count, and
    an active agent without a vote counts as no."""
    yes = {v.agent_id for v in votes if v.approve and not v.counted_as_no}
    yes_weight = sum(w for agent, w in active_weights.items() if agent in yes)
    return Tally(yes_weight, sum(active_weights.values()), required_share)


def fit_to_budget(
    quantity: Decimal, price: Decimal, equity: Decimal, budget_pct: Decimal, step: Decimal
) -> Decimal:
    """The largest quantity (a multiple of step, at most quantity) whose notional fits the budget."""
    if price <= 0 or equity <= 0 or budget_pct <= 0:
        return Decimal(0)
    cap = (equity * budget_pct / price / step).to_integral_value(rounding=ROUND_DOWN) * step
    return min(quantity, cap)


def agent_strategy_id(agent_id: str, strategy: str, instrument_id: str = "") -> str:
    """The strategy id stamped on an agent's orders, `agent:<agent>:<strategy>[:<BASE-QUOTE>]`:
    the risk engine reads the agent and the strategy from it; the symbol part only tells
    instruments apart. No '/' or '#', so an order id stays one URL path segment."""
    symbol = instrument_id.partition("@")[0].replace("/", "-")
    suffix = f":{symbol}" if symbol else ""
    return f"{AGENT_ORDER_PREFIX}{agent_id}:{strategy}{suffix}"


def parse_agent_strategy_id(strategy_id: str) -> tuple[str, str] | None:
    """(agent id, strategy) of an agent's order, or None for an ordinary strategy's order."""
    if not strategy_id.startswith(AGENT_ORDER_PREFIX):
        return None
    agent, _, rest = strategy_id[len(AGENT_ORDER_PREFIX) :].partition(":")
    return agent, rest.partition(":")[0]


class AgentMessage(msgspec.Struct, frozen=True, kw_only=True):
    message_id: str
    message_type: MessageType
    sender: str
    recipient: str | None = None  # None = broadcast to every agent
    priority: Priority = Priority.NORMAL
    ts_ns: int = 0
    payload: dict[str, object] = msgspec.field(default_factory=dict)
