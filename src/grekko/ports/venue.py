"""ExecutionVenue port: where orders go. Paper, ccxt and on-chain venues all look like this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from grekko.domain.events import OrderEvent
from grekko.domain.orders import Order


class VenueCapabilities(msgspec.Struct, frozen=True):
    order_types: frozenset[str]
    supports_cancel: bool = True
    simulated: bool = False


# The venue reports what happened to an order by calling this with an order event.
OrderEventSink = Callable[[OrderEvent], None]


class ExecutionVenue(Protocol):
    name: str
    capabilities: VenueCapabilities

    def bind(self, sink: OrderEventSink) -> None:
        """Receive the callback through which the venue reports order events."""
        ...

    def submit_order(self, order: Order) -> None: ...

    def cancel_order(self, order: Order, reason: str = "") -> None: ...

    def open_order_ids(self) -> set[str]:
        """client_order_ids the venue still works: reconciliation after a restart uses it."""
        ...


# Venues whose calls block (chains, exchanges over HTTP) run their work through a `worker` and
# deliver order events through `hand_back`, so the kernel's thread is never blocked and only it
# touches the kernel. Both default to running the job right away (tests, backtests).
Job = Callable[[], None]


def run_inline(job: Job) -> None:
    job()
