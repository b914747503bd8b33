"""The kernel: engines wired around one bus, the same object in backtest, paper and live.

Only the clock, the event store and the venues differ between modes, and those are passed in
by bootstrap. Priorities on market data fix the order of work for every observation: venues
match working orders first (fills happen at this bar's open), then the portfolio marks, then
(its equity watermarks call the risk engine's breakers), then strategies decide on the completed bar.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Protocol

from grekko.core.time import Clock
from grekko.domain.accounts import Account
from grekko.domain.data import Bar, TradeTick
from grekko.domain.events import (
    AccountFunded,
    AgentConfigured,
    AgentEvent,
    AgentStateChanged,
    OrderFilled,
    OrderInitialized,
    StoredEvent,
    TradingStateChanged,
)
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order
from grekko.domain.risk import RiskLimits
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine
from grekko.engines.execution_engine import ExecutionEngine, order_stream
from grekko.engines.portfolio import Portfolio
from grekko.engines.risk_engine import RiskEngine
from grekko.engines.trader import RISK_ENDPOINT, Trader
from grekko.ports.event_store import EventStore, RecordedEvent
from grekko.ports.venue import ExecutionVenue

log = logging.getLogger("grekko.kernel")

ACCOUNT_STREAM = "account-main"
VENUE_PRIORITY = 200
PORTFOLIO_PRIORITY = 100
_ORDER_NUMBER = re.compile(r"^O-(?P<sid>.+)-(?P<n>\d+)$")


class MarketDataVenue(ExecutionVenue, Protocol):
    def on_bar(self, bar: Bar) -> None: ...
    def on_trade(self, tick: TradeTick) -> None: ...


class Kernel:
    def __init__(
        self,
        clock: Clock,
        store: EventStore,
        *,
        cash_currency: str = "USDT",
        limits: RiskLimits | None = None,
        margin: bool = False,
    ) -> None:
        self.clock = clock
        self.store = store
        self.bus = MessageBus()
        self.cache = Cache()
        self.portfolio = Portfolio(
            self.bus, self.cache, Account("main", margin=margin), cash_currency
        )
        self.execution = ExecutionEngine(
            self.bus, self.cache, clock, store, on_fill=self.portfolio.apply_fill
        )
        self.risk = RiskEngine(
            self.bus,
            self.cache,
            clock,
            store,
            self.portfolio,
            self.execution,
            limits or RiskLimits(),
        )
        self.data = DataEngine(self.bus, self.cache)
        self.trader = Trader(self.bus, self.cache, clock, self.portfolio)
        self.bus.register(RISK_ENDPOINT, self.risk.execute)
        self.bus.subscribe("data.bars.*", self.portfolio.on_bar, PORTFOLIO_PRIORITY)
        self.risk.watch()
        self._venue_bar_handlers: list[Callable[[Bar], None]] = []

    def add_instrument(self, instrument: Instrument) -> None:
        self.cache.add_instrument(instrument)

    def add_venue(self, venue: MarketDataVenue) -> None:
        self.execution.add_venue(venue)
        self._venue_bar_handlers.append(venue.on_bar)
        bind_account = getattr(venue, "bind_account", None)
        if bind_account is not None:  # a simulated venue settles against our own account
            account = self.portfolio.account
            bind_account(None if account.margin else account.total)
        self.bus.subscribe("data.bars.*", venue.on_bar, VENUE_PRIORITY)
        self.bus.subscribe("data.trades.*", venue.on_trade, VENUE_PRIORITY)

    def remove_venue(self, name: str) -> None:
        """Take a venue out; refused while it still works orders (cancel them first)."""
        venue = self.execution.remove_venue(name)
        self._venue_bar_handlers.remove(venue.on_bar)  # type: ignore[attr-defined]
        self.bus.unsubscribe("data.bars.*", venue.on_bar)  # type: ignore[attr-defined]
        self.bus.unsubscribe("data.trades.*", venue.on_trade)  # type: ignore[attr-defined]

    def fund(self, currency: str, amount: Decimal) -> None:
        event = AccountFunded(
            ts_event=self.clock.timestamp_ns(), account_id="main", currency=currency, amount=amount
        )
        self.store.append(ACCOUNT_STREAM, [event])
        self.portfolio.apply(event)

    @contextmanager
    def history(self) -> Iterator[None]:
        """Within the block, bars reach only the data engine and the strategies, which warm up
        (their orders are suppressed). Venues must not match orders against bars they saw before
        a restart, and the portfolio must not mark today's positions at yesterday's prices."""
        muted = [(h, VENUE_PRIORITY) for h in self._venue_bar_handlers]
        muted.append((self.portfolio.on_bar, PORTFOLIO_PRIORITY))
        contexts = [self.trader.context(sid) for sid in self.trader.strategies]
        for handler, _ in muted:
            self.bus.unsubscribe("data.bars.*", handler)
        for ctx in contexts:
            ctx.warming_up = True
        try:
            yield
        finally:
            for ctx in contexts:
                ctx.warming_up = False
            for handler, priority in muted:
                self.bus.subscribe("data.bars.*", handler, priority)

    def recover(self) -> RecoveryReport:
        """Rebuild orders, positions, balances and trading state from the event store."""
        return recover_from(self, self.store.read_all())


class RecoveryReport:
    __slots__ = ("events", "last_position", "open_orders", "orders", "orders_per_strategy")

    def __init__(self) -> None:
        self.events = 0
        self.last_position = 0  # the global position of the last event recovered
        self.orders = 0
        self.open_orders: list[Order] = []
        self.orders_per_strategy: dict[str, int] = {}


def recover_from(kernel: Kernel, records: Iterable[RecordedEvent]) -> RecoveryReport:
    report = RecoveryReport()
    cache = kernel.cache
    for record in records:
        report.events += 1
        report.last_position = record.global_position
        event: StoredEvent = record.event
        if type(event) is OrderInitialized:
            report.orders += 1
            _count_order_number(report, event.client_order_id, event.strategy_id)
        apply_stored(kernel, event)
    for order in cache.orders.values():
        cache.update_open(order)
    report.open_orders = cache.open_orders_for()
    return report


def apply_stored(kernel: Kernel, event: StoredEvent) -> None:
    """One stored event into the kernel's read models, as recovery applies it."""
    cache = kernel.cache
    if type(event) is OrderInitialized:
        cache.add_order(Order(event))
    elif isinstance(event, AgentEvent | AgentConfigured | AgentStateChanged):
        return  # the agents rebuild their own read models from these
    elif hasattr(event, "client_order_id"):
        order = cache.orders[event.client_order_id]
        order.apply(event)  # type: ignore[arg-type]
        if type(event) is OrderFilled:
            kernel.portfolio.apply_fill(event)
    elif type(event) is TradingStateChanged:
        kernel.risk.state = event.state
    else:
        kernel.portfolio.apply(event)


def project_order(
    kernel: Kernel, client_order_id: str, through_version: int | None = None
) -> Order | None:
    """Catch the kernel's copy of one order up with the event store: the events another process
    stored since this one last looked are applied (fills reach the portfolio), none twice; only
    up to through_version when given. None when the store has no such order (yet)."""
    known = kernel.cache.orders.get(client_order_id)
    version = len(known.events) if known is not None else 0
    for record in kernel.store.read(order_stream(client_order_id), version + 1):
        if through_version is not None and record.version > through_version:
            break
        apply_stored(kernel, record.event)
    order = kernel.cache.orders.get(client_order_id)
    if order is not None:
        kernel.cache.update_open(order)
    return order


def _count_order_number(report: RecoveryReport, client_order_id: str, strategy_id: str) -> None:
    m = _ORDER_NUMBER.match(client_order_id)
    if m is not None and m.group("sid") == strategy_id:
        n = int(m.group("n"))
        report.orders_per_strategy[strategy_id] = max(
            report.orders_per_strategy.get(strategy_id, 0), n
        )


def describe(kernel: Kernel) -> dict[str, Any]:
    """A plain snapshot for views and tests: balances, positions, open orders."""
    portfolio = kernel.portfolio
    return {
        "balances": {c: str(v) for c, v in sorted(portfolio.account.totals.items())},
        "positions": {
            iid: {
                "quantity": str(p.quantity),
                "avg_px": str(p.avg_px),
                "realized_pnl": str(p.realized_pnl),
            }
            for iid, p in sorted(portfolio.positions.items())
        },
        "orders": {
            oid: {"status": o.status.value, "filled_qty": str(o.filled_qty)}
            for oid, o in sorted(kernel.cache.orders.items())
        },
        "trading_state": kernel.risk.state.value,
    }
