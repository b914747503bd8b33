"""An execution process killed while an order was on its way to the paper venue (latency not yet
over, approval already acked): the next process sends it again, once, and it fills."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.core.time import TestClock
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderStatus
from grekko.domain.events import OrderAccepted, OrderFilled, OrderSubmitted
from grekko.engines.distributed import resend_in_flight
from grekko.engines.kernel import Kernel

LATENCY = PaperVenueConfig(latency_ns=5_000_000_000)


def test_an_order_lost_in_flight_is_sent_again_once_and_fills(
    make_harness: Callable[..., Any],
) -> None:
    h = make_harness(venue=LATENCY)
    h.flat_bar(100)
    coid = h.ctx.submit_market(h.iid, OrderSide.BUY, Decimal(1))
    assert h.kernel.cache.order(coid).status is OrderStatus.SUBMITTED
    assert h.venue.open_order_ids() == {coid}  # in flight, then the process dies

    kernel = Kernel(TestClock(h.clock.timestamp_ns()), h.store)
    kernel.add_instrument(h.instrument)
    report = kernel.recover()
    venue = PaperVenue(
        LATENCY, kernel.cache.instrument, kernel.clock, kernel.portfolio.position_qty
    )
    kernel.add_venue(venue)
    venue.restore(report.open_orders)
    assert venue.open_order_ids() == set()  # restore takes only what the venue had accepted

    assert resend_in_flight(kernel, venue, report.open_orders) == [coid]
    assert resend_in_flight(kernel, venue, report.open_orders) == []  # held now: not twice
    clock = kernel.clock
    assert isinstance(clock, TestClock)
    opens = clock.timestamp_ns() + 60_000_000_000  # the next bar opens after the latency
    clock.set_time(opens + 60_000_000_000)
    kernel.data.process_bar(Bar(h.iid, 101, 101, 101, 101, 1000, opens, clock.timestamp_ns()))

    order = kernel.cache.order(coid)
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == Decimal(1)
    events = [type(e) for e in h.stored_for(coid)]
    assert events.count(OrderSubmitted) == 1
    assert events.count(OrderAccepted) == 1
    assert events.count(OrderFilled) == 1
    assert kernel.portfolio.position_qty(h.iid) == Decimal(1)


def test_orders_the_venue_had_accepted_are_not_sent_again(
    make_harness: Callable[..., Any],
) -> None:
    h = make_harness()
    h.flat_bar(100)
    coid = h.ctx.submit_limit(h.iid, OrderSide.BUY, Decimal(1), Decimal(90))
    assert h.kernel.cache.order(coid).status is OrderStatus.ACCEPTED

    kernel = Kernel(TestClock(h.clock.timestamp_ns()), h.store)
    kernel.add_instrument(h.instrument)
    report = kernel.recover()
    venue = PaperVenue(
        PaperVenueConfig(), kernel.cache.instrument, kernel.clock, kernel.portfolio.position_qty
    )
    kernel.add_venue(venue)
    venue.restore(report.open_orders)

    assert resend_in_flight(kernel, venue, report.open_orders) == []
    assert venue.open_order_ids() == {coid}
    assert [type(e) for e in h.stored_for(coid)].count(OrderAccepted) == 1
