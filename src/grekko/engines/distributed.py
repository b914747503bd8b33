"""The kernel split over processes: what each service does with the messages of the stream bus.

Every service runs the same Kernel; the event store (PostgreSQL, shared) stays the only truth and
the stream bus carries work and notifications between the processes:

    ingest ──bars──► agents ──orders.requested──► risk ──orders.approved──► execution
                     (strategies)                 (pre-trade checks)         (venues)
    every order event ──orders.events──► agents, risk, gateway: they re-read that order's
    events from the store (`project_order`), so a notification seen twice changes nothing.

Risk records the order (initialized and submitted, or denied) before it approves it, so an
approved order already exists in the store when execution takes it; execution submits it to its
venue only while the store says it was never accepted, so an approval handled twice (a consumer
killed before its ack) reaches the venue once. Handlers run on the kernel's event loop.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from grekko.domain.agents import AgentType
from grekko.domain.commands import CancelOrder, SubmitOrder
from grekko.domain.data import Bar
from grekko.domain.enums import OrderStatus
from grekko.domain.events import OrderSubmitted
from grekko.domain.orders import Order
from grekko.domain.risk import AgentLimit
from grekko.engines.execution_engine import order_stream
from grekko.engines.kernel import Kernel, apply_stored, project_order
from grekko.engines.trader import RISK_ENDPOINT
from grekko.ports.event_store import RecordedEvent
from grekko.ports.streams import Delivery, StreamBus
from grekko.ports.venue import OrderEventSink, VenueCapabilities

log = logging.getLogger("grekko.distributed")

BARS = "grekko.bars"
REQUESTED = "grekko.orders.requested"
APPROVED = "grekko.orders.approved"  # .<partition>: one stream per execution partition
ORDER_EVENTS = "grekko.orders.events"
AGENT_LIMITS = "grekko.agents.limits"  # every risk process reads all of it (a group of its own)

Handler = Callable[[Delivery], None]


class AgentLimitSet(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's cap as the agents process set it; the risk processes enforce it."""

    ts_event: int
    agent_id: str
    agent_type: str
    max_trade_pct: Decimal
    approved_strategies: list[str] | None = None
    instruments: list[str] | None = None


def share_agent_limits(streams: StreamBus, clock: Any) -> Callable[[AgentLimit], None]:
    """What the agents process calls with every cap it sets."""
    sent = itertools.count(1)

    def share(limit: AgentLimit) -> None:
        message = AgentLimitSet(
            ts_event=clock.timestamp_ns(),
            agent_id=limit.agent_id,
            agent_type=str(limit.agent_type),
            max_trade_pct=limit.max_trade_pct,
            approved_strategies=_sorted(limit.approved_strategies),
            instruments=_sorted(limit.instruments),
        )
        event_id = f"{limit.agent_id}:{time.time_ns()}:{next(sent)}"
        streams.publish(AGENT_LIMITS, message, event_id=event_id)

    return share


def _sorted(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)


def on_agent_limits(kernel: Kernel) -> Handler:
    """The risk side: the latest cap of each agent, checked again by AgentLimit's hard caps."""

    def handle(delivery: Delivery) -> None:
        m = delivery.message
        if not isinstance(m, AgentLimitSet):
            raise TypeError(f"not an agent limit: {delivery.type_name}")
        limit = AgentLimit(
            agent_id=m.agent_id,
            agent_type=AgentType(m.agent_type),
            max_trade_pct=m.max_trade_pct,
            approved_strategies=None
            if m.approved_strategies is None
            else frozenset(m.approved_strategies),
            instruments=None if m.instruments is None else frozenset(m.instruments),
        )
        kernel.risk.set_agent_limit(limit)

    return handle


def partition_of(instrument_id: str, partitions: int) -> int:
    """Which execution (and strategy) partition works an instrument: stable across processes."""
    digest = hashlib.sha256(instrument_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % partitions


def approved_stream(partition: int) -> str:
    return f"{APPROVED}.{partition}"


def bar_id(bar: Bar) -> str:
    return f"{bar.instrument_id}@{bar.ts_event}"


def order_event_id(event: Any) -> str:
    trade = getattr(event, "trade_id", "")
    return f"{event.client_order_id}:{type(event).__name__}:{event.ts_event}:{trade}"


def on_bars(kernel: Kernel, clock: Any) -> Handler:
    """Bars into the kernel (venues match, the portfolio marks, strategies decide), the replay
    clock moved to each bar's time first. A bar older than the clock (redelivered) is skipped."""

    def handle(delivery: Delivery) -> None:
        bar = delivery.message
        if not isinstance(bar, Bar):
            raise TypeError(f"not a bar: {delivery.type_name}")
        if bar.ts_event < clock.timestamp_ns():
            return
        clock.set_time(bar.ts_event)
        kernel.data.process_bar(bar)

    return handle


def on_order_events(follower: StoreFollower) -> Handler:
    """An order notice: catch up with everything stored since, in the log's order, so every
    process applies fills in the order they happened (average prices and PnL agree)."""

    def handle(delivery: Delivery) -> None:
        _order_id(delivery)  # a notice that names no order is refused (and dead-lettered)
        follower.catch_up(by_notice=True)

    return handle


def export_order_events(kernel: Kernel, streams: StreamBus) -> None:
    """Every order event this process stores is announced on orders.events."""

    def announce(event: Any) -> None:
        streams.publish(ORDER_EVENTS, event, event_id=order_event_id(event))

    kernel.bus.subscribe("events.order.*", announce)


def forward_orders(kernel: Kernel, streams: StreamBus) -> None:
    """The agents' side: strategies' commands go to risk over the bus instead of in-process."""

    def forward(command: object) -> None:
        if isinstance(command, SubmitOrder | CancelOrder):
            streams.publish(REQUESTED, command, event_id=_command_id(command))
        else:
            raise TypeError(f"cannot forward {type(command).__name__} to risk")

    kernel.bus.deregister(RISK_ENDPOINT)
    kernel.bus.register(RISK_ENDPOINT, forward)


def _order_id(delivery: Delivery) -> str:
    found = getattr(delivery.message, "client_order_id", None)
    if not isinstance(found, str):
        raise TypeError(f"{delivery.type_name} names no order")
    return found


def _command_id(command: SubmitOrder | CancelOrder) -> str:
    if isinstance(command, SubmitOrder):
        return command.client_order_id
    return f"cancel:{command.client_order_id}:{command.ts_init}"


class RemoteVenue:
    """Stands in the risk process for a venue another process runs: an approved order (already
    stored as submitted) and a cancel go to orders.approved; the venue's events come back
    through the store."""

    capabilities = VenueCapabilities(
        order_types=frozenset({"market", "limit", "stop", "stop_limit"})
    )

    def __init__(self, name: str, streams: StreamBus, clock: Any, partitions: int = 1) -> None:
        self.name = name
        self._streams = streams
        self._clock = clock
        self._partitions = partitions

    def _stream(self, order: Order) -> str:
        return approved_stream(partition_of(order.instrument_id, self._partitions))

    def bind(self, sink: OrderEventSink) -> None:
        """Events come from the venue's own process, through the store."""

    def submit_order(self, order: Order) -> None:
        note = OrderSubmitted(
            ts_event=self._clock.timestamp_ns(), client_order_id=order.client_order_id
        )
        self._streams.publish(self._stream(order), note, event_id=order.client_order_id)

    def cancel_order(self, order: Order, reason: str = "") -> None:
        cmd = CancelOrder(
            ts_init=self._clock.timestamp_ns(), client_order_id=order.client_order_id, reason=reason
        )
        self._streams.publish(self._stream(order), cmd, event_id=_command_id(cmd))

    def open_order_ids(self) -> set[str]:
        return set()

    def on_bar(self, bar: Bar) -> None:
        """The remote venue matches on its own bars."""

    def on_trade(self, tick: object) -> None:
        """As on_bar."""


def on_requests(kernel: Kernel) -> Handler:
    """The risk side: every requested order is decided once, whoever asks twice."""

    def handle(delivery: Delivery) -> None:
        command = delivery.message
        if isinstance(command, SubmitOrder):
            if project_order(kernel, command.client_order_id) is not None:
                return  # decided before (this process restarted, or a duplicate request)
            kernel.risk.submit(command)
        elif isinstance(command, CancelOrder):
            if project_order(kernel, command.client_order_id) is not None:
                kernel.risk.execute(command)
        else:
            raise TypeError(f"risk cannot take {delivery.type_name}")

    return handle


def on_approvals(kernel: Kernel, venue_name: str) -> Handler:
    """The execution side: an approved order reaches the venue once, a cancel is carried out."""

    def handle(delivery: Delivery) -> None:
        message = delivery.message
        order = project_order(kernel, _order_id(delivery))
        if order is None:
            raise LookupError(f"approved order {_order_id(delivery)} is not in the store yet")
        if isinstance(message, CancelOrder):
            if order.is_open:
                kernel.execution.cancel(message)
            return
        resend_in_flight(kernel, kernel.execution.venue(venue_name), [order])

    return handle


def resend_in_flight(kernel: Kernel, venue: Any, orders: list[Order]) -> list[str]:
    """Send to the venue the orders the store has as submitted and the venue does not hold.

    On an approval this is the first send. At an execution process's start it takes back orders
    that were on their way to the simulated venue (its latency not yet over) when the process
    died after acking their approval: the paper venue lost them with the process, and no real
    exchange ever saw them, so sending again cannot double one."""
    sent = []
    for order in orders:
        if (
            order.status is OrderStatus.SUBMITTED
            and order.client_order_id not in venue.open_order_ids()
        ):
            kernel.cache.open_orders[order.client_order_id] = order
            venue.submit_order(order)
            sent.append(order.client_order_id)
    return sent


class StoreFollower:
    """Catches the kernel's orders up with everything stored since it last looked, whatever the
    notices said: an order notice that never arrived (a handler that failed until its entry went
    to the dead letters, a publish refused under backpressure) is made up for here. Run from
    time to time on the kernel's loop; an event the kernel already has is skipped by version."""

    def __init__(self, kernel: Kernel, after_position: int) -> None:
        self._kernel = kernel
        self.position = after_position
        self.caught_up = 0  # order events applied here that no notice had brought

    def catch_up(self, *, by_notice: bool = False) -> int:
        """Apply what was stored since; by_notice: a notice asked for it, so what is applied
        was announced (the periodic run counts and reports what no notice brought)."""
        orders = self._kernel.cache.orders
        applied = 0
        for record in self._kernel.store.read_all(self.position + 1):
            self.position = record.global_position
            coid = getattr(record.event, "client_order_id", None)
            if not isinstance(coid, str) or record.stream_id != order_stream(coid):
                continue  # not an order's own event (an agent's record naming an order)
            known = orders.get(coid)
            have = len(known.events) if known is not None else 0
            if record.version <= have:
                continue
            applied += self._apply_through(coid, have, record)
        if by_notice:
            return applied
        self.caught_up += applied
        if applied:
            log.warning(
                "caught %d order event(s) up from the store that no notice brought", applied
            )
        return applied

    def _apply_through(self, coid: str, have: int, record: RecordedEvent) -> int:
        """The order's events up to this record's, in the log's order: fills of different orders
        reach the portfolio in the order they happened (average price and PnL depend on it)."""
        if record.version == have + 1:  # the usual case: no read, the record is the event
            apply_stored(self._kernel, record.event)
            self._kernel.cache.update_open(self._kernel.cache.orders[coid])
            return 1
        project_order(self._kernel, coid, through_version=record.version)  # a gap before it
        return record.version - have


def backlog(info: dict[str, Any]) -> float:
    """A consumer group's backlog per consumer (lag + pending) / consumers, from XINFO GROUPS."""
    lag = info.get("lag") or 0
    pending = info.get("pending") or 0
    consumers = max(1, int(info.get("consumers") or 1))
    return float(int(lag) + int(pending)) / consumers


def encode_snapshot(kernel: Kernel) -> bytes:
    from grekko.engines.kernel import describe

    return msgspec.json.encode(describe(kernel))
