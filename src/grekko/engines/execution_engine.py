"""ExecutionEngine: owns order aggregates, routes them to venues, records every order event.

The order of work for every order event is fixed: apply to the aggregate (the state machine
validates), append to the event store, then publish. A venue sees an order only after its
OrderSubmitted is stored, and a client_order_id that the engine has ever seen never reaches a
venue again: that is at-most-once delivery, and it holds across restarts because the known ids
are rebuilt from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from grekko.core.errors import RoutingError
from grekko.core.ids import split_instrument_id
from grekko.core.time import Clock
from grekko.domain.commands import CancelAllOrders, CancelOrder, SubmitOrder
from grekko.domain.events import (
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
)
from grekko.domain.orders import Order
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.ports.event_store import EventStore
from grekko.ports.venue import ExecutionVenue

log = logging.getLogger("grekko.execution")

ORDER_TOPIC = "events.order"


def order_stream(client_order_id: str) -> str:
    return f"order-{client_order_id}"


class ExecutionEngine:
    def __init__(
        self,
        bus: MessageBus,
        cache: Cache,
        clock: Clock,
        store: EventStore,
        on_fill: Callable[[OrderFilled], None] | None = None,
    ) -> None:
        self._bus = bus
        self._cache = cache
        self._clock = clock
        self._store = store
        self._venues: dict[str, ExecutionVenue] = {}
        self._topics: dict[str, str] = {}
        self._venue_by_instrument: dict[str, ExecutionVenue] = {}
        self._on_fill = (
            on_fill  # the portfolio projection: positions move before anyone hears of the fill
        )
        self.duplicates_dropped = 0

    # ---- wiring -------------------------------------------------------------------------------
    def add_venue(self, venue: ExecutionVenue) -> None:
        if venue.name in self._venues:
            raise RoutingError(f"venue {venue.name!r} is already registered")
        self._venues[venue.name] = venue
        venue.bind(self.handle_venue_event)

    def remove_venue(self, name: str) -> ExecutionVenue:
        venue = self.venue(name)
        if venue.open_order_ids():
            raise RoutingError(f"venue {name!r} still works orders; cancel them before removing it")
        del self._venues[name]
        self._venue_by_instrument = {
            iid: v for iid, v in self._venue_by_instrument.items() if v is not venue
        }
        return venue

    def venue_names(self) -> list[str]:
        return list(self._venues)

    def venue(self, name: str) -> ExecutionVenue:
        try:
            return self._venues[name]
        except KeyError:
            raise RoutingError(f"no venue named {name!r}; have {sorted(self._venues)}") from None

    # ---- commands -------------------------------------------------------------------------------
    def submit(self, cmd: SubmitOrder) -> Order | None:
        """Create, record and route an order that passed risk; a known id is dropped, never resent."""
        if cmd.client_order_id in self._cache.orders:
            self._drop_duplicate(cmd.client_order_id)
            return None
        venue = self._venue_by_instrument.get(cmd.instrument_id)
        if venue is None:
            venue = self._venue_by_instrument[cmd.instrument_id] = self.venue(
                split_instrument_id(cmd.instrument_id)[1]
            )
        now = self._clock.timestamp_ns()
        order = self._create(cmd, now)
        submitted = OrderSubmitted(ts_event=now, client_order_id=cmd.client_order_id)
        order.apply(submitted)
        self._store.append(order_stream(cmd.client_order_id), tuple(order.events), 0)
        self._cache.open_orders[cmd.client_order_id] = order
        self._publish(order, order.events[0])
        self._publish(order, submitted)
        venue.submit_order(order)
        return order

    def deny(self, cmd: SubmitOrder, reason: str) -> Order | None:
        """Record a risk denial as events: the order exists, denied, with its reason."""
        if cmd.client_order_id in self._cache.orders:
            self._drop_duplicate(cmd.client_order_id)
            return None
        now = self._clock.timestamp_ns()
        order = self._create(cmd, now)
        denied = OrderDenied(ts_event=now, client_order_id=cmd.client_order_id, reason=reason)
        order.apply(denied)
        self._store.append(order_stream(order.client_order_id), tuple(order.events), 0)
        self._publish(order, order.events[0])
        self._publish(order, denied)
        return order

    def cancel(self, cmd: CancelOrder) -> None:
        order = self._cache.order(cmd.client_order_id)
        if order is None:
            raise RoutingError(f"cannot cancel unknown order {cmd.client_order_id!r}")
        if not order.is_open:
            log.info("cancel of %s ignored: already %s", order.client_order_id, order.status)
            return
        _, venue_name = split_instrument_id(order.instrument_id)
        self.venue(venue_name).cancel_order(order, cmd.reason)

    def cancel_all(self, cmd: CancelAllOrders) -> int:
        orders = self._cache.open_orders_for(cmd.instrument_id)
        for order in orders:
            self.cancel(
                CancelOrder(
                    ts_init=cmd.ts_init, client_order_id=order.client_order_id, reason=cmd.reason
                )
            )
        return len(orders)

    def cancel_unknown_to_venues(self, reason: str) -> list[str]:
        """After a restart: orders the store has open but no venue works were lost in flight."""
        lost = []
        working: set[str] = set()
        for venue in self._venues.values():
            working |= venue.open_order_ids()
        for order in self._cache.open_orders_for():
            if order.client_order_id not in working:
                now = self._clock.timestamp_ns()
                self.handle_venue_event(
                    OrderCanceled(
                        ts_event=now, client_order_id=order.client_order_id, reason=reason
                    )
                )
                lost.append(order.client_order_id)
        return lost

    # ---- events from venues ------------------------------------------------------------------
    def handle_venue_event(self, event: OrderEvent) -> None:
        order = self._cache.orders.get(event.client_order_id)
        if order is None:
            log.warning("event for unknown order %s dropped: %r", event.client_order_id, event)
            return
        version = len(order.events)
        order.apply(event)
        cid = order.client_order_id
        self._store.append(order_stream(cid), (event,), version)
        if order.is_open:
            self._cache.open_orders[cid] = order
        else:
            self._cache.open_orders.pop(cid, None)
        self._publish(order, event)

    # ---- internals -------------------------------------------------------------------------------
    def _create(self, cmd: SubmitOrder, now: int) -> Order:
        init = OrderInitialized(
            ts_event=now,
            client_order_id=cmd.client_order_id,
            strategy_id=cmd.strategy_id,
            instrument_id=cmd.instrument_id,
            side=cmd.side,
            order_type=cmd.order_type,
            quantity=cmd.quantity,
            price=cmd.price,
            trigger_price=cmd.trigger_price,
            time_in_force=cmd.time_in_force,
            reduce_only=cmd.reduce_only,
            post_only=cmd.post_only,
        )
        order = Order(init)
        self._cache.add_order(order)
        return order

    def _publish(self, order: Order, event: OrderEvent) -> None:
        topic = self._topics.get(order.strategy_id)
        if topic is None:
            topic = self._topics[order.strategy_id] = f"{ORDER_TOPIC}.{order.strategy_id}"
        if self._on_fill is not None and type(event) is OrderFilled:
            self._on_fill(event)
        self._bus.publish(topic, event)

    def _drop_duplicate(self, client_order_id: str) -> None:
        self.duplicates_dropped += 1
        log.warning(
            "duplicate client_order_id %s dropped: it never reaches a venue twice", client_order_id
        )
