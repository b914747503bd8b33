"""Run a strategy plugin over the bundled BTCUSDT slice through the real kernel, watching it.

The watcher only listens on the bus: after each bar (below the strategy's priority) it records
the position, the strategy's open orders and its indicator values; on each order's first event
it records the rationale the strategy set right before submitting it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from grekko.adapters.files.bars import bundled_files
from grekko.backtest.runner import run
from grekko.bootstrap import BacktestSetup, BacktestSpec, build_backtest
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderType
from grekko.domain.events import OrderFilled
from grekko.domain.orders import Order


@dataclass(frozen=True)
class OrderView:
    """An order as it stood at that moment (Order objects keep changing)."""

    client_order_id: str
    side: OrderSide
    order_type: OrderType
    price: Decimal | None
    trigger_price: Decimal | None
    quantity: Decimal
    leaves_qty: Decimal

    @classmethod
    def of(cls, order: Order) -> OrderView:
        return cls(
            order.client_order_id,
            order.side,
            order.order_type,
            order.price,
            order.trigger_price,
            order.quantity,
            order.leaves_qty,
        )


@dataclass(frozen=True)
class Snapshot:
    ts: int
    close: float
    position: Decimal
    open_orders: tuple[OrderView, ...]
    signal: dict[str, Any]


@dataclass
class Watched:
    setup: BacktestSetup
    strategy: Any
    snapshots: list[Snapshot] = field(default_factory=list)
    rationales: dict[str, str] = field(default_factory=dict)
    positions_after_fill: list[Decimal] = field(default_factory=list)
    index_of: dict[int, int] = field(default_factory=dict)  # bar close ns -> snapshot index

    @property
    def orders(self) -> list[Order]:
        return list(self.setup.kernel.cache.orders.values())

    def fills(self) -> list[OrderFilled]:
        fills = [e for o in self.orders for e in o.events if type(e) is OrderFilled]
        return sorted(fills, key=lambda f: f.ts_event)

    def at(self, ts: int) -> Snapshot:
        return self.snapshots[self.index_of[ts]]

    def by_seq(self) -> list[Order]:
        """The strategy's orders in the order it submitted them."""
        return sorted(self.orders, key=lambda o: int(o.client_order_id.rsplit("-", 1)[1]))


def btc_file() -> Path:
    return next(f for f in bundled_files() if f.name.startswith("BTCUSDT"))


def btc_frame() -> pd.DataFrame:
    """The bundled bars read independently of grekko's loader; ts is the bar close in ns."""
    frame = pd.read_csv(btc_file())
    frame["ts"] = (frame["open_time_ms"] + 60_000) * 1_000_000
    return frame


def watch(strategy: str, params: Mapping[str, str], path: Path | None = None) -> Watched:
    setup = build_backtest(
        BacktestSpec(files=(path or btc_file(),), strategy=strategy, params=params)
    )
    [instance] = setup.strategies
    watched = Watched(setup, instance)
    ctx = instance.ctx
    iid = instance.instrument_id

    def after_bar(bar: Bar) -> None:
        watched.index_of[bar.ts_event] = len(watched.snapshots)
        watched.snapshots.append(
            Snapshot(
                bar.ts_event,
                bar.close,
                ctx.position(iid),
                tuple(OrderView.of(o) for o in ctx.open_orders(iid)),
                dict(instance.signal()),
            )
        )

    def on_order_event(event: Any) -> None:
        cid = event.client_order_id
        if cid not in watched.rationales:
            watched.rationales[cid] = instance.rationale
        if type(event) is OrderFilled:
            watched.positions_after_fill.append(ctx.position(iid))

    bus = setup.kernel.bus
    bus.subscribe(f"data.bars.{iid}", after_bar, -100)
    bus.subscribe(f"events.order.{instance.strategy_id}", on_order_event, -100)
    run(setup.kernel, setup.feeds)
    assert bus.handler_errors == 0
    return watched
