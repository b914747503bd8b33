"""CoinbaseVenue: Coinbase Advanced Trade as an ExecutionVenue, so the kernel trades it like any venue.

An order goes to Coinbase with the kernel's client_order_id as Coinbase's client_order_id. The
answer is OrderAccepted with Coinbase's order id, or OrderRejected with Coinbase's own error and
message (e.g. "INSUFFICIENT_FUND: Insufficient balance in source account"). Fills are not pushed:
`poll_fills()`, called periodically by whoever runs the venue, asks Coinbase for the fills of the
orders still working and reports each new one once (by Coinbase trade id), then settles orders
Coinbase closed by itself (an IOC remainder, an order cancelled on the website) as OrderCanceled
or OrderExpired. A cancel reports the fills made before it, then OrderCanceled once Coinbase
confirms; a cancel Coinbase refuses (the order already filled) is logged and the fills follow.

The client blocks (ccxt's sync class), so `worker` runs its calls (inline by default; a thread
in a live session) and `hand_back` delivers the resulting events on the kernel's own thread. The
venue queues its own jobs and runs them one at a time in submission order whatever the worker,
so an order's acceptance always reaches the kernel before its fills, and its fills before its
cancellation. `open_order_ids()` asks Coinbase directly (it serves reconciliation after a
restart); `follow()` takes back an order accepted before a restart, with the fills already booked.
After `unlink(reason)` (the key was removed) every new order is rejected with that reason and no
call reaches Coinbase until `link(client)`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from grekko.adapters.ccxt.coinbase_records import (
    CoinbaseError,
    CoinbaseUnavailable,
    ExchangeFill,
    OrderRefused,
)
from grekko.adapters.ccxt.trading import CoinbaseTrading, ExchangeTimeInForce, OrderRequest
from grekko.core.errors import ConfigError, VenueError
from grekko.core.money import ZERO
from grekko.core.time import Clock
from grekko.domain.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from grekko.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order
from grekko.ports.venue import Job, OrderEventSink, VenueCapabilities, run_inline

__all__ = ["CoinbaseVenue"]

log = logging.getLogger(__name__)

_CLOSED_BY_EXCHANGE = {"CANCELLED": OrderCanceled, "FAILED": OrderCanceled, "EXPIRED": OrderExpired}
_TIME_IN_FORCE: dict[TimeInForce, ExchangeTimeInForce] = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
}


@dataclass
class _Working:
    """An order Coinbase works for us, as far as this venue has heard."""

    client_order_id: str
    instrument_id: str
    strategy_id: str
    side: OrderSide
    quantity: Decimal
    fee_currency: str
    venue_order_id: str | None = None
    filled: Decimal = ZERO
    trade_ids: set[str] = field(default_factory=set)


def _working(order: Order, instrument: Instrument | None) -> _Working:
    return _Working(
        client_order_id=order.client_order_id,
        instrument_id=order.instrument_id,
        strategy_id=order.strategy_id,
        side=order.side,
        quantity=order.quantity,
        fee_currency=instrument.quote if instrument is not None else "",
    )


class CoinbaseVenue:
    capabilities = VenueCapabilities(
        order_types=frozenset({OrderType.MARKET.value, OrderType.LIMIT.value}),
        supports_cancel=True,
        simulated=False,
    )

    def __init__(
        self,
        client: CoinbaseTrading,
        instruments: Callable[[str], Instrument | None],
        clock: Clock,
        *,
        name: str = "coinbase",
        worker: Callable[[Job], None] = run_inline,
        hand_back: Callable[[Job], None] = run_inline,
    ) -> None:
        self.name = name
        self._client = client
        self._instruments = instruments
        self._clock = clock
        self._worker = worker
        self._hand_back = hand_back
        self._sink: OrderEventSink | None = None
        self._unlinked = ""  # why orders are refused: Coinbase is not linked any more
        self._working: dict[str, _Working] = {}
        self._state = threading.Lock()
        self._queue: deque[Job] = deque()
        self._one_at_a_time = threading.RLock()  # re-entrant: an inline worker may nest jobs

    # ---- port -------------------------------------------------------------------------------
    def bind(self, sink: OrderEventSink) -> None:
        self._sink = sink

    def submit_order(self, order: Order) -> None:
        instrument = self._instruments(order.instrument_id)
        work = _working(order, instrument)
        with self._state:
            self._working[order.client_order_id] = work
        self._enqueue(lambda: self._place(work, order, instrument))

    def cancel_order(self, order: Order, reason: str = "") -> None:
        self._enqueue(lambda: self._cancel(order.client_order_id, reason))

    def link(self, client: CoinbaseTrading) -> None:
        """Trade through this client (again); orders still followed are followed with it."""
        with self._state:
            self._client, self._unlinked = client, ""

    def unlink(self, reason: str) -> None:
        with self._state:
            self._unlinked = reason

    def working_order_ids(self) -> set[str]:
        """Orders this venue still follows, without asking Coinbase."""
        with self._state:
            return set(self._working)

    def open_order_ids(self) -> set[str]:
        """Orders Coinbase lists as open, plus those this venue has not seen settled yet."""
        if self._unlinked:
            return self.working_order_ids()
        with self._one_at_a_time:
            try:
                listed = self._client.open_orders()
            except CoinbaseError as exc:
                raise VenueError(f"{self.name}: cannot list open orders: {exc}") from None
        with self._state:
            working = set(self._working)
        return working | {o.client_order_id for o in listed if o.client_order_id}

    def poll_fills(self) -> None:
        """Queue one look at Coinbase for new fills and orders it closed on its own."""
        self._enqueue(self._poll)

    def follow(self, orders: Iterable[Order]) -> None:
        """Take back open orders accepted before a restart; their booked fills are not repeated."""
        for order in orders:
            if not order.venue_order_id or not order.is_open:
                continue
            work = _working(order, self._instruments(order.instrument_id))
            work.venue_order_id = order.venue_order_id
            work.filled = order.filled_qty
            work.trade_ids = {e.trade_id for e in order.events if isinstance(e, OrderFilled)}
            with self._state:
                self._working[order.client_order_id] = work

    def on_bar(self, bar: object) -> None:
        """Coinbase prices its own fills."""

    def on_trade(self, tick: object) -> None:
        """Coinbase prices its own fills."""

    # ---- jobs, one at a time ------------------------------------------------------------------
    def _enqueue(self, job: Job) -> None:
        with self._state:
            self._queue.append(job)
        self._worker(self._run_queued)

    def _run_queued(self) -> None:
        with self._one_at_a_time:
            while True:
                with self._state:
                    if not self._queue:
                        return
                    job = self._queue.popleft()
                try:
                    job()
                except Exception:  # a bug here must not stop the jobs queued behind it
                    log.exception("%s: job failed", self.name)

    def _deliver(self, events: list[OrderEvent]) -> None:
        if not events:
            return

        def deliver() -> None:
            if self._sink is None:
                raise VenueError(f"{self.name} is not bound to an execution engine")
            for event in events:
                self._sink(event)

        self._hand_back(deliver)

    def _forget(self, client_order_id: str) -> None:
        with self._state:
            self._working.pop(client_order_id, None)

    # ---- placing -------------------------------------------------------------------------------
    def _place(self, work: _Working, order: Order, instrument: Instrument | None) -> None:
        cid = order.client_order_id
        if self._unlinked:
            self._forget(cid)
            self._deliver([self._rejected(cid, self._unlinked)])
            return
        try:
            placed = self._client.place_order(self._request(order, instrument))
        except OrderRefused as exc:
            self._forget(cid)
            self._deliver([self._rejected(cid, str(exc))])
            return
        except CoinbaseUnavailable as exc:
            log.error(
                "%s: no answer placing %s; check Coinbase's open orders: %s", self.name, cid, exc
            )
            self._forget(cid)
            self._deliver(
                [self._rejected(cid, f"no answer from Coinbase, order state unknown: {exc}")]
            )
            return
        except (CoinbaseError, ConfigError) as exc:
            self._forget(cid)
            self._deliver([self._rejected(cid, str(exc))])
            return
        except Exception as exc:  # a bug on our side: the order must not hang in SUBMITTED
            log.exception("%s: placing %s failed", self.name, cid)
            self._forget(cid)
            self._deliver([self._rejected(cid, f"{type(exc).__name__}: {exc}")])
            return
        with self._state:
            work.venue_order_id = placed.order_id
        now = self._clock.timestamp_ns()
        self._deliver(
            [OrderAccepted(ts_event=now, client_order_id=cid, venue_order_id=placed.order_id)]
        )

    def _request(self, order: Order, instrument: Instrument | None) -> OrderRequest:
        if instrument is None:
            raise ConfigError(f"{order.instrument_id} is not an instrument the kernel knows")
        if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise ConfigError(f"{self.name} takes market and limit orders, not {order.order_type}")
        tif = _TIME_IN_FORCE.get(order.time_in_force, "GTC")
        return OrderRequest(
            symbol=instrument.symbol,
            side="buy" if order.side is OrderSide.BUY else "sell",
            order_type="market" if order.order_type is OrderType.MARKET else "limit",
            amount=order.leaves_qty,
            client_order_id=order.client_order_id,
            price=order.price if order.order_type is OrderType.LIMIT else None,
            time_in_force=tif,
            post_only=order.post_only,
        )

    # ---- fills and closes ----------------------------------------------------------------------
    def _poll(self) -> None:
        with self._state:
            following = {w.venue_order_id: w for w in self._working.values() if w.venue_order_id}
        if not following or self._unlinked:
            return
        try:
            fills = self._client.fills(order_ids=sorted(following))
        except CoinbaseError as exc:
            log.warning("%s: fill poll failed, the next poll retries: %s", self.name, exc)
            return
        events = self._fill_events(fills, following)
        try:
            events += self._closed_by_exchange(following)
        except CoinbaseError as exc:
            log.warning("%s: order status poll failed, the next poll retries: %s", self.name, exc)
        self._deliver(events)

    def _fill_events(
        self, fills: list[ExchangeFill], following: dict[str, _Working]
    ) -> list[OrderEvent]:
        events: list[OrderEvent] = []
        for fill in fills:
            work = following.get(fill.order_id)
            if work is None or fill.trade_id in work.trade_ids or fill.amount <= 0:
                continue
            work.trade_ids.add(fill.trade_id)
            if work.filled + fill.amount > work.quantity:
                log.error(
                    "%s: fill %s of %s overfills %s; not booked",
                    self.name,
                    fill.trade_id,
                    work.client_order_id,
                    work.quantity,
                )
                continue
            work.filled += fill.amount
            events.append(self._filled(work, fill))
            if work.filled == work.quantity:
                self._forget(work.client_order_id)
        return events

    def _filled(self, work: _Working, fill: ExchangeFill) -> OrderFilled:
        return OrderFilled(
            ts_event=self._clock.timestamp_ns(),
            client_order_id=work.client_order_id,
            venue_order_id=fill.order_id,
            trade_id=fill.trade_id,
            instrument_id=work.instrument_id,
            strategy_id=work.strategy_id,
            side=work.side,
            last_qty=fill.amount,
            last_px=fill.price,
            fee=fill.fee,
            fee_currency=fill.fee_currency or work.fee_currency,
            liquidity=LiquiditySide.MAKER if fill.liquidity == "maker" else LiquiditySide.TAKER,
        )

    def _closed_by_exchange(self, following: dict[str, _Working]) -> list[OrderEvent]:
        """Orders still working here that Coinbase no longer lists as open: ask each one's fate."""
        with self._state:
            unsettled = [w for w in following.values() if w.client_order_id in self._working]
        if not unsettled:
            return []
        listed = {o.order_id for o in self._client.open_orders()}
        events: list[OrderEvent] = []
        for work in unsettled:
            if work.venue_order_id is None or work.venue_order_id in listed:
                continue
            state = self._client.order(work.venue_order_id)
            closed = _CLOSED_BY_EXCHANGE.get(state.exchange_status)
            if closed is None:  # FILLED with fills not visible yet, or still PENDING: next poll
                continue
            self._forget(work.client_order_id)
            now = self._clock.timestamp_ns()
            if closed is OrderExpired:
                events.append(OrderExpired(ts_event=now, client_order_id=work.client_order_id))
            else:
                why = f"coinbase: {state.exchange_status} {state.status_message}".strip()
                events.append(
                    OrderCanceled(ts_event=now, client_order_id=work.client_order_id, reason=why)
                )
        return events

    # ---- cancelling ----------------------------------------------------------------------------
    def _cancel(self, client_order_id: str, reason: str) -> None:
        with self._state:
            work = self._working.get(client_order_id)
        if work is None or work.venue_order_id is None or self._unlinked:
            log.info(
                "%s: cancel of %s ignored: not working or unlinked", self.name, client_order_id
            )
            return
        order_id = work.venue_order_id
        try:
            result = self._client.cancel([order_id])[order_id]
        except CoinbaseError as exc:
            log.warning("%s: cancel of %s failed: %s", self.name, client_order_id, exc)
            return
        try:
            events = self._fill_events(self._client.fills(order_ids=[order_id]), {order_id: work})
        except CoinbaseError as exc:  # the next poll finds the fills, then the cancellation
            log.warning(
                "%s: fills of cancelled %s not read yet: %s", self.name, client_order_id, exc
            )
            return
        done = work.filled == work.quantity
        if result.success and not done:
            self._forget(client_order_id)
            now = self._clock.timestamp_ns()
            events.append(
                OrderCanceled(ts_event=now, client_order_id=client_order_id, reason=reason)
            )
        elif not result.success:
            log.warning(
                "%s: Coinbase refused to cancel %s: %s",
                self.name,
                client_order_id,
                result.failure_reason,
            )
        self._deliver(events)

    def _rejected(self, client_order_id: str, reason: str) -> OrderRejected:
        return OrderRejected(
            ts_event=self._clock.timestamp_ns(), client_order_id=client_order_id, reason=reason
        )
