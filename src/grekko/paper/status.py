"""A plain, immutable picture of a running session, taken between bars, for views and logs.

Views render this rather than reading the kernel, so rendering can never observe the kernel
half-way through a bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import islice

from grekko.core.money import ZERO
from grekko.core.time import ns_to_iso
from grekko.domain.events import OrderFilled
from grekko.domain.orders import Order
from grekko.engines.kernel import Kernel

RECENT_ORDERS = 8


@dataclass(frozen=True, slots=True)
class PositionRow:
    instrument_id: str
    quantity: Decimal
    avg_px: Decimal
    mark: Decimal | None
    unrealized: Decimal
    realized: Decimal


@dataclass(frozen=True, slots=True)
class OrderRow:
    client_order_id: str
    ts_last: int
    instrument_id: str
    side: str
    order_type: str
    quantity: Decimal
    status: str
    filled_qty: Decimal
    avg_px: Decimal


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str  # starting | warming up | live | finished | stopped
    processed: int  # bars of the replay done (warm-up included), counted from its start
    total: int  # bars this session runs to
    warmup: int  # bars replayed as history after a restart
    speed: float  # bars per wall second
    now_ns: int  # the replay's time


@dataclass(frozen=True, slots=True)
class SessionStatus:
    progress: Progress
    strategies: tuple[str, ...]
    trading_state: str
    cash_currency: str
    equity: Decimal
    funded: Decimal
    fees: Decimal
    balances: tuple[tuple[str, Decimal], ...]
    positions: tuple[PositionRow, ...]
    recent_orders: tuple[OrderRow, ...]  # newest first
    orders: int
    fills: int

    @property
    def pnl(self) -> Decimal:
        return self.equity - self.funded

    @property
    def pnl_pct(self) -> Decimal:
        return self.pnl / self.funded * 100 if self.funded else ZERO


def capture(kernel: Kernel, progress: Progress, funded: Decimal) -> SessionStatus:
    portfolio = kernel.portfolio
    orders = kernel.cache.orders
    return SessionStatus(
        progress=progress,
        strategies=tuple(kernel.trader.strategies),
        trading_state=kernel.risk.state.value,
        cash_currency=portfolio.cash_currency,
        equity=portfolio.equity(),
        funded=funded,
        fees=portfolio.fees,
        balances=tuple(sorted(portfolio.account.totals.items())),
        positions=tuple(_position_rows(kernel)),
        recent_orders=tuple(
            _order_row(o) for o in islice(reversed(orders.values()), RECENT_ORDERS)
        ),
        orders=len(orders),
        fills=sum(1 for o in orders.values() for e in o.events if type(e) is OrderFilled),
    )


def _position_rows(kernel: Kernel) -> list[PositionRow]:
    rows = []
    for iid, position in sorted(kernel.portfolio.positions.items()):
        mark = kernel.cache.last_price(iid)
        rows.append(
            PositionRow(
                instrument_id=iid,
                quantity=position.quantity,
                avg_px=position.avg_px,
                mark=mark,
                unrealized=position.unrealized_pnl(mark) if mark is not None else ZERO,
                realized=position.realized_pnl,
            )
        )
    return rows


def _order_row(order: Order) -> OrderRow:
    return OrderRow(
        client_order_id=order.client_order_id,
        ts_last=order.ts_last,
        instrument_id=order.instrument_id,
        side=order.side.value,
        order_type=order.order_type.value,
        quantity=order.quantity,
        status=order.status.value,
        filled_qty=order.filled_qty,
        avg_px=order.avg_px,
    )


def status_line(status: SessionStatus) -> str:
    """One line for logs and --no-view: where the replay is and what the account is worth."""
    p = status.progress
    return (
        f"{p.phase} bar {p.processed}/{p.total} at {ns_to_iso(p.now_ns)} | "
        f"equity {status.equity:.2f} {status.cash_currency} pnl {status.pnl:+.2f} | "
        f"orders {status.orders} fills {status.fills} | trading {status.trading_state}"
    )
