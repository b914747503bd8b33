"""Follow the agents' orders: each outcome goes to the proposal's audit trail and to every agent,
and each fill into the agent's own performance record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from grekko.agents.messaging import Messenger
from grekko.core.money import ZERO
from grekko.domain.agents import MessageType, parse_agent_strategy_id
from grekko.domain.events import (
    Event,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    ProposalOutcome,
)
from grekko.domain.positions import Position

AGENT_ORDER_TOPICS = "events.order.agent:*"


@dataclass
class AgentBook:
    """One agent's trading record, from its own fills only."""

    fills: int = 0
    turnover: Decimal = ZERO  # traded notional
    fees: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    closing_fills: int = 0
    winning_fills: int = 0
    positions: dict[str, Position] = field(default_factory=dict)

    def apply(self, fill: OrderFilled) -> None:
        pos = self.positions.get(fill.instrument_id)
        if pos is None:
            pos = self.positions[fill.instrument_id] = Position(fill.instrument_id)
        held = pos.quantity
        realized = pos.apply_fill(fill.side, fill.last_qty, fill.last_px, fill.fee)
        self.fills += 1
        self.turnover += fill.last_qty * fill.last_px
        self.fees += fill.fee
        self.realized_pnl += realized
        if held != 0 and (held > 0) != (fill.side.sign > 0):
            self.closing_fills += 1
            self.winning_fills += realized > 0

    def summary(self, mark: Callable[[str], Decimal | None]) -> dict[str, object]:
        unrealized = ZERO
        for iid, pos in self.positions.items():
            px = mark(iid)
            if px is not None:
                unrealized += pos.unrealized_pnl(px)
        return {
            "fills": self.fills,
            "turnover": str(self.turnover),
            "fees": str(self.fees),
            "realized_pnl": str(self.realized_pnl),
            "unrealized_pnl": str(unrealized),
            "net_pnl": str(self.realized_pnl + unrealized - self.fees),
            "hit_rate": self.winning_fills / self.closing_fills if self.closing_fills else None,
            "positions": {iid: str(p.quantity) for iid, p in self.positions.items() if p.quantity},
        }


class OrderWatcher:
    def __init__(
        self,
        by_order: dict[str, str],
        executing: Callable[[], str | None],
        record: Callable[[Event], None],
        messenger: Messenger,
    ) -> None:
        self._by_order = by_order
        self._executing = executing
        self._record = record
        self._messenger = messenger
        self._ordered: dict[str, Decimal] = {}
        self._filled: dict[str, tuple[Decimal, Decimal]] = {}
        self.books: dict[str, AgentBook] = {}

    def book(self, agent_id: str) -> AgentBook:
        book = self.books.get(agent_id)
        if book is None:
            book = self.books[agent_id] = AgentBook()
        return book

    def on_order_event(self, event: Event) -> None:
        kind = type(event)
        oid: str = getattr(event, "client_order_id", "")
        if kind is OrderInitialized:
            self._ordered[oid] = event.quantity  # type: ignore[attr-defined]
            pid = self._executing()
            if pid is not None and oid not in self._by_order:
                self._by_order[oid] = pid
            return
        if kind is OrderFilled:
            self._on_fill(event)  # type: ignore[arg-type]
        pid = self._by_order.get(oid)
        outcome = self._outcome(pid, oid, event) if pid is not None else None
        if kind in _TERMINAL or (kind is OrderFilled and self._done(oid)):
            self._ordered.pop(oid, None)  # a finished order's running sums are not needed again
            self._filled.pop(oid, None)
        if pid is None or outcome is None:
            return  # a protective reduce-only order (not a proposal's), or no outcome yet
        self._record(outcome)
        self._messenger.broadcast(
            MessageType.EXECUTION_RESULT,
            "coordinator",
            {
                "proposal_id": pid,
                "client_order_id": oid,
                "status": outcome.status,
                "reason": outcome.reason,
                "filled_qty": str(outcome.filled_qty),
            },
        )

    def _done(self, oid: str) -> bool:
        filled = self._filled.get(oid)
        return filled is not None and filled[0] >= self._ordered.get(oid, filled[0])

    def _on_fill(self, fill: OrderFilled) -> None:
        parsed = parse_agent_strategy_id(fill.strategy_id)
        if parsed is not None:
            self.book(parsed[0]).apply(fill)
        qty, notional = self._filled.get(fill.client_order_id, (ZERO, ZERO))
        self._filled[fill.client_order_id] = (
            qty + fill.last_qty,
            notional + fill.last_qty * fill.last_px,
        )

    def _outcome(self, pid: str, oid: str, event: Event) -> ProposalOutcome | None:
        kind = type(event)
        qty, notional = self._filled.get(oid, (ZERO, ZERO))
        avg = notional / qty if qty else None
        if kind is OrderFilled:
            status = "filled" if self._done(oid) else "partially_filled"
            return ProposalOutcome(
                ts_event=event.ts_event,
                proposal_id=pid,
                client_order_id=oid,
                status=status,
                filled_qty=qty,
                avg_px=avg,
            )
        reason = str(getattr(event, "reason", ""))
        names = {
            OrderDenied: "denied",
            OrderRejected: "rejected",
            OrderCanceled: "canceled",
            OrderExpired: "expired",
        }
        status_name = names.get(kind)
        if status_name is None:
            return None
        return ProposalOutcome(
            ts_event=event.ts_event,
            proposal_id=pid,
            client_order_id=oid,
            status=status_name,
            reason=reason,
            filled_qty=qty,
            avg_px=avg,
        )


_TERMINAL = frozenset({OrderDenied, OrderRejected, OrderCanceled, OrderExpired})
