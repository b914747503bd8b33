"""TradingDesk: what the API may do with the running kernel, in one narrow facade.

Every call runs on the event loop thread that also runs the replay (see PaperSession.run_async),
so kernel state is never touched from two threads. Orders from the API go through the same
risk endpoint as a strategy's, under the strategy id `manual:<username>`.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import msgspec

from grekko.domain.commands import CancelOrder, SubmitOrder
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderType, TimeInForce, TradingState
from grekko.domain.events import OrderDenied, OrderFilled, OrderInitialized, OrderRejected
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order
from grekko.domain.risk import RiskLimits
from grekko.engines.kernel import Kernel
from grekko.engines.trader import RISK_ENDPOINT
from grekko.ports.event_store import RecordedEvent

EQUITY_POINTS = 20_000


class UnknownInstrument(KeyError):
    pass


class TradingDesk:
    def __init__(self, kernel: Kernel, *, remote: bool = False) -> None:
        """remote: the risk engine runs in another process (`grekko serve gateway`); an order
        is then answered as requested and appears here once risk has stored its decision."""
        self.kernel = kernel
        self.remote = remote
        self.equity_curve: deque[tuple[int, Decimal]] = deque(maxlen=EQUITY_POINTS)
        kernel.bus.subscribe("data.bars.*", self._mark_equity, priority=-100)

    def _mark_equity(self, bar: Bar) -> None:
        curve = self.equity_curve
        if curve and curve[-1][0] == bar.ts_event:
            return
        curve.append((bar.ts_event, self.kernel.portfolio.equity()))

    # ---- market ----------------------------------------------------------------------------------
    def instruments(self) -> list[Instrument]:
        return list(self.kernel.cache.instruments.values())

    def instrument(self, instrument_id: str) -> Instrument:
        found = self.kernel.cache.instrument(instrument_id)
        if found is None:
            known = ", ".join(sorted(self.kernel.cache.instruments)) or "none"
            raise UnknownInstrument(f"unknown instrument {instrument_id!r}; known: {known}")
        return found

    def last_bar(self, instrument_id: str) -> Bar | None:
        self.instrument(instrument_id)
        return self.kernel.cache.last_bar.get(instrument_id)

    # ---- orders ----------------------------------------------------------------------------------
    def submit(
        self,
        username: str,
        instrument_id: str,
        side: OrderSide,
        order_type: OrderType,
        quantity: Decimal,
        *,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        post_only: bool = False,
    ) -> Order:
        instrument = self.instrument(instrument_id)
        cmd = SubmitOrder(
            ts_init=self.kernel.clock.timestamp_ns(),
            client_order_id=f"M-{uuid.uuid4().hex[:20]}",
            strategy_id=f"manual:{username}",
            instrument_id=instrument.id,
            side=side,
            order_type=order_type,
            quantity=instrument.make_qty(quantity),
            price=None if price is None else instrument.make_price(price),
            trigger_price=None if trigger_price is None else instrument.make_price(trigger_price),
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            post_only=post_only,
        )
        self.kernel.bus.send(RISK_ENDPOINT, cmd)
        order = self.kernel.cache.order(cmd.client_order_id)
        if order is None and self.remote:
            fields = msgspec.structs.asdict(cmd)
            return Order(OrderInitialized(ts_event=fields.pop("ts_init"), **fields))
        if order is None:  # the risk engine always records one; a missing order is a bug
            raise RuntimeError(f"order {cmd.client_order_id} vanished")
        return order

    def cancel(self, client_order_id: str) -> Order:
        order = self.order(client_order_id)
        self.kernel.bus.send(
            RISK_ENDPOINT,
            CancelOrder(
                ts_init=self.kernel.clock.timestamp_ns(),
                client_order_id=client_order_id,
                reason="canceled through the API",
            ),
        )
        return order

    def order(self, client_order_id: str) -> Order:
        order = self.kernel.cache.order(client_order_id)
        if order is None:
            raise KeyError(f"no order {client_order_id!r}")
        return order

    def orders(self, *, open_only: bool = False, limit: int = 100) -> list[Order]:
        source = self.kernel.cache.open_orders if open_only else self.kernel.cache.orders
        return list(source.values())[-limit:][::-1]

    def fills(self, limit: int = 100) -> list[OrderFilled]:
        found: list[OrderFilled] = []
        for order in reversed(list(self.kernel.cache.orders.values())):
            found.extend(e for e in reversed(order.events) if type(e) is OrderFilled)
            if len(found) >= limit:
                break
        found.sort(key=lambda f: f.ts_event, reverse=True)
        return found[:limit]

    # ---- portfolio -------------------------------------------------------------------------------
    def positions(self) -> list[dict[str, Any]]:
        portfolio = self.kernel.portfolio
        out = []
        for iid, pos in portfolio.positions.items():
            mark = portfolio.mark_price(iid)
            out.append(
                {
                    "instrument_id": iid,
                    "quantity": pos.quantity,
                    "avg_px": pos.avg_px,
                    "mark_price": mark,
                    "unrealized_pnl": pos.unrealized_pnl(mark) if mark is not None else None,
                    "realized_pnl": pos.realized_pnl,
                }
            )
        return out

    def balances(self) -> list[dict[str, Any]]:
        portfolio = self.kernel.portfolio
        return [
            {
                "currency": currency,
                "total": total,
                "free": portfolio.free(currency),
                "reserved": portfolio.reserved(currency),
            }
            for currency, total in sorted(portfolio.account.totals.items())
        ]

    def portfolio(self) -> dict[str, Any]:
        p = self.kernel.portfolio
        return {
            "cash_currency": p.cash_currency,
            "equity": p.equity(),
            "realized_pnl": p.realized_pnl,
            "unrealized_pnl": p.unrealized_pnl(),
            "fees": p.fees,
            "drawdown": p.drawdown_f,
        }

    # ---- risk ------------------------------------------------------------------------------------
    def risk_limits(self) -> RiskLimits:
        return self.kernel.risk.limits

    def set_risk_limits(self, **changes: Any) -> RiskLimits:
        limits = replace(self.kernel.risk.limits, **changes)
        self.kernel.risk.set_limits(limits)
        return limits

    def risk_state(self) -> dict[str, Any]:
        risk = self.kernel.risk
        return {
            "state": risk.state,
            "denials": risk.denials,
            "open_orders": len(self.kernel.cache.open_orders),
            "drawdown": self.kernel.portfolio.drawdown_f,
        }

    def kill_switch(self, reason: str) -> int:
        return self.kernel.risk.kill_switch(reason)

    def set_trading_state(self, state: TradingState, reason: str) -> None:
        self.kernel.risk.set_state(state, reason)

    # ---- events ----------------------------------------------------------------------------------
    def events(self, from_position: int = 1, limit: int = 100) -> list[RecordedEvent]:
        out: list[RecordedEvent] = []
        records: Iterator[RecordedEvent] = self.kernel.store.read_all(from_position)
        for record in records:
            out.append(record)
            if len(out) >= limit:
                break
        return out


def denial_reason(order: Order) -> str | None:
    for event in reversed(order.events):
        if type(event) is OrderDenied or type(event) is OrderRejected:
            return event.reason
    return None
