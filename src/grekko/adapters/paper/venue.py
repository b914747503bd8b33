"""PaperVenue: simulated matching against bars and trades, shared by backtest and paper mode.

It implements the ExecutionVenue port and reports through the sink the execution engine binds,
so the kernel cannot tell it from a real exchange. Configurable: slippage (bps), a volume
participation cap that turns big orders into partial fills across bars, fees from the
instrument (maker/taker), and latency between submission and arrival at the venue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from grekko.core.errors import VenueError
from grekko.core.money import ZERO, quantize, to_decimal
from grekko.core.time import Clock
from grekko.domain.data import Bar, TradeTick
from grekko.domain.enums import (
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from grekko.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderTriggered,
)
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order
from grekko.ports.venue import OrderEventSink, VenueCapabilities

from .matching import Quote, match, slipped, stop_order_rank, stop_triggered

STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


@dataclass(frozen=True, slots=True)
class PaperVenueConfig:
    name: str = "paper"
    slippage_bps: Decimal = ZERO
    volume_participation: Decimal | None = None  # max share of an observation's volume per fill
    latency_ns: int = 0
    strict_limits: bool = True  # a resting limit fills only when price trades through it


class PaperVenue:
    capabilities = VenueCapabilities(
        order_types=frozenset(t.value for t in OrderType), supports_cancel=True, simulated=True
    )

    def __init__(
        self,
        config: PaperVenueConfig,
        instruments: Callable[[str], Instrument | None],
        clock: Clock,
        position_qty: Callable[[str], Decimal],
    ) -> None:
        if config.volume_participation is not None and not 0 < config.volume_participation <= 1:
            raise VenueError("volume_participation must be in (0, 1]")
        if config.latency_ns < 0:
            raise VenueError("latency cannot be negative")
        self.name = config.name
        self.config = config
        self._instruments = instruments
        self._clock = clock
        self._position_qty = position_qty
        self._cash_balance: Callable[[str], Decimal] | None = None  # None: margin, no cash cap
        self._sink: OrderEventSink | None = None
        self._working: dict[str, list[Order]] = {}
        self._inflight: list[tuple[int, Order]] = []
        self._fee_increments: dict[str, Decimal] = {}
        self._cap = config.volume_participation

    # ---- port -------------------------------------------------------------------------------------
    def bind(self, sink: OrderEventSink) -> None:
        self._sink = sink

    def bind_account(self, cash_balance: Callable[[str], Decimal] | None) -> None:
        """The account the simulated exchange settles against; None for a margin account."""
        self._cash_balance = cash_balance

    def submit_order(self, order: Order) -> None:
        if self.config.latency_ns:
            self._inflight.append((self._clock.timestamp_ns() + self.config.latency_ns, order))
        else:
            self._accept(order, self._clock.timestamp_ns())

    def cancel_order(self, order: Order, reason: str = "") -> None:
        now = self._clock.timestamp_ns()
        for i, (_, pending) in enumerate(self._inflight):
            if pending is order:
                del self._inflight[i]
                self._emit(
                    OrderCanceled(
                        ts_event=now,
                        client_order_id=order.client_order_id,
                        reason=reason or "canceled in flight",
                    )
                )
                return
        working = self._working.get(order.instrument_id, [])
        if order in working:
            working.remove(order)
            self._emit(
                OrderCanceled(
                    ts_event=now, client_order_id=order.client_order_id, reason=reason or "canceled"
                )
            )

    def open_order_ids(self) -> set[str]:
        ids = {o.client_order_id for orders in self._working.values() for o in orders}
        return ids | {o.client_order_id for _, o in self._inflight}

    def restore(self, orders: list[Order]) -> None:
        """Take back orders the venue had accepted before a restart (a real exchange keeps them)."""
        for order in orders:
            if order.status in (
                OrderStatus.ACCEPTED,
                OrderStatus.TRIGGERED,
                OrderStatus.PARTIALLY_FILLED,
            ):
                self._working.setdefault(order.instrument_id, []).append(order)

    # ---- market data ------------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        if self._inflight:
            self._release(bar.ts_open)
        working = self._working.get(bar.instrument_id)
        if working:
            self._match_all(working, Quote(bar.open, bar.high, bar.low, bar.volume), bar.ts_open)

    def on_trade(self, tick: TradeTick) -> None:
        if self._inflight:
            self._release(tick.ts_event)
        working = self._working.get(tick.instrument_id)
        if working:
            p = tick.price
            self._match_all(working, Quote(p, p, p, tick.size), tick.ts_event)

    # ---- internals ----------------------------------------------------------------------------------
    def _release(self, now: int) -> None:
        arrived = [o for ts, o in self._inflight if ts <= now]
        if arrived:
            self._inflight = [(ts, o) for ts, o in self._inflight if ts > now]
            for order in arrived:
                self._accept(order, now)

    def _accept(self, order: Order, now: int) -> None:
        cid = order.client_order_id
        instrument = self._instruments(order.instrument_id)
        if instrument is None:
            self._emit(
                OrderRejected(
                    ts_event=now,
                    client_order_id=cid,
                    reason=f"paper: unknown instrument {order.instrument_id}",
                )
            )
            return
        if order.price is not None and order.quantity * order.price < instrument.min_notional:
            self._emit(
                OrderRejected(ts_event=now, client_order_id=cid, reason="paper: below min notional")
            )
            return
        self._emit(OrderAccepted(ts_event=now, client_order_id=cid, venue_order_id=f"P-{cid}"))
        self._working.setdefault(order.instrument_id, []).append(order)

    def _match_all(self, working: list[Order], q: Quote, ts: int) -> None:
        orders = sorted(working, key=stop_order_rank) if len(working) > 1 else list(working)
        # the share of this observation's volume still available, exact in Decimal
        budget = to_decimal(q.volume) * self._cap if self._cap is not None else None
        for order in orders:
            if not order.is_open:
                continue
            filled = self._match_one(order, q, ts, budget)
            if budget is not None:
                budget -= filled

    def _match_one(self, order: Order, q: Quote, ts: int, budget: Decimal | None) -> Decimal:
        if order.order_type in STOPS and not order.triggered:
            trigger_px = stop_triggered(order, q)
            if trigger_px is None:
                return ZERO
            self._emit(OrderTriggered(ts_event=ts, client_order_id=order.client_order_id))
            if order.order_type is OrderType.STOP_MARKET:
                return self._fill(order, trigger_px, LiquiditySide.TAKER, ts, budget)
            q = Quote(trigger_px, q.high, q.low, q.volume)
        decision = match(order, q, strict_limits=self.config.strict_limits)
        if decision is None:
            if order.time_in_force is not TimeInForce.GTC:
                self._expire(order, ts, "no match at first opportunity")
            return ZERO
        if order.post_only and decision[1] is LiquiditySide.TAKER:
            self._expire(order, ts, "post-only order would take liquidity")
            return ZERO
        return self._fill(order, decision[0], decision[1], ts, budget)

    def _fill(
        self, order: Order, px: float, liquidity: LiquiditySide, ts: int, budget: Decimal | None
    ) -> Decimal:
        instrument = self._instruments(order.instrument_id)
        if instrument is None:  # removed after acceptance
            self._expire(order, ts, "instrument no longer listed")
            return ZERO
        qty = self._fill_quantity(order, instrument, budget, ts)
        if qty is None:
            return ZERO
        if liquidity is LiquiditySide.TAKER and self.config.slippage_bps:
            px = slipped(px, order.side, self.config.slippage_bps)
            if order.price is not None:  # a limit caps what slippage can cost
                limit = float(order.price)
                px = min(px, limit) if order.side is OrderSide.BUY else max(px, limit)
        price = instrument.make_price(px)
        rate = instrument.maker_fee if liquidity is LiquiditySide.MAKER else instrument.taker_fee
        qty = self._affordable(order, instrument, qty, price, rate, ts)
        if qty is None:
            return ZERO
        if order.time_in_force is TimeInForce.FOK and qty < order.leaves_qty:
            self._expire(order, ts, "FOK could not fill completely")
            return ZERO
        fee_increment = self._fee_increments.get(order.instrument_id)
        if fee_increment is None:
            fee_increment = self._fee_increment(instrument)
        fee = quantize(qty * price * rate, fee_increment)
        self._emit(
            OrderFilled(
                ts_event=ts,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
                trade_id=f"T-{order.client_order_id}-{len(order.events)}",
                instrument_id=order.instrument_id,
                strategy_id=order.strategy_id,
                side=order.side,
                last_qty=qty,
                last_px=price,
                fee=fee,
                fee_currency=instrument.quote,
                liquidity=liquidity,
            )
        )
        if order.status is OrderStatus.FILLED:
            self._working[order.instrument_id].remove(order)
        elif order.time_in_force is TimeInForce.IOC:
            self._expire(order, ts, "IOC remainder")
        return qty

    def _fill_quantity(
        self, order: Order, instrument: Instrument, budget: Decimal | None, ts: int
    ) -> Decimal | None:
        qty = order.leaves_qty
        if order.reduce_only:
            held = self._position_qty(order.instrument_id)
            reducible = held if order.side is OrderSide.SELL else -held
            if reducible <= 0:
                self._expire(order, ts, "reduce-only order would increase the position")
                return None
            qty = min(qty, reducible)
        if budget is not None:
            qty = min(qty, instrument.make_qty(max(budget, ZERO)))
        if order.time_in_force is TimeInForce.FOK and qty < order.leaves_qty:
            self._expire(order, ts, "FOK could not fill completely")
            return None
        return qty if qty > 0 else None

    def _fee_increment(self, instrument: Instrument) -> Decimal:
        """Fees keep the precision of price x size, so they never round a cent away per fill."""
        inc = self._fee_increments[instrument.id] = (
            instrument.price_increment * instrument.size_increment
        ).normalize()
        return inc

    def _affordable(
        self,
        order: Order,
        instrument: Instrument,
        qty: Decimal,
        price: Decimal,
        rate: Decimal,
        ts: int,
    ) -> Decimal | None:
        """A cash account cannot pay for more than it holds, even when the price gapped after risk."""
        if self._cash_balance is None:
            return qty
        if order.side is OrderSide.BUY:
            cash = self._cash_balance(instrument.quote)
            if qty * price * (1 + rate) > cash:
                qty = instrument.make_qty(cash / (price * (1 + rate)))
        else:
            qty = min(qty, self._cash_balance(instrument.base))
        if qty <= 0:
            self._expire(order, ts, "insufficient funds at fill time")
            return None
        return qty

    def _expire(self, order: Order, ts: int, reason: str) -> None:
        working = self._working.get(order.instrument_id, [])
        if order in working:
            working.remove(order)
        if order.status is OrderStatus.SUBMITTED or not order.is_open:
            return
        self._emit(OrderCanceled(ts_event=ts, client_order_id=order.client_order_id, reason=reason))

    def _emit(
        self,
        event: OrderAccepted
        | OrderCanceled
        | OrderExpired
        | OrderFilled
        | OrderRejected
        | OrderTriggered,
    ) -> None:
        if self._sink is None:
            raise VenueError("paper venue is not bound to an execution engine")
        self._sink(event)
