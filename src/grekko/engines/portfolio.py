"""Portfolio: the positions/balances projection of fills, and mark-to-market equity watermarks.

Positions and balances are Decimal and change only through events (`apply`), so replaying the
event store rebuilds them exactly. Marking runs on every bar, the hottest path of the kernel, so
it keeps a float mirror of equity (analytics, never fed back into money) and compares it with
two watermarks: the running peak and a floor set by the risk engine. Only crossing the floor or
a new UTC day calls out; an equity curve is rebuilt from the fills afterwards, not recorded here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from grekko.core.money import ZERO
from grekko.domain.accounts import Account
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide
from grekko.domain.events import AccountFunded, Event, OrderFilled, PositionChanged
from grekko.domain.positions import Position
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache

POSITION_TOPIC = "events.position"


class Portfolio:
    def __init__(
        self,
        bus: MessageBus,
        cache: Cache,
        account: Account,
        cash_currency: str,
    ) -> None:
        self._bus = bus
        self._cache = cache
        self.account = account
        self.cash_currency = cash_currency
        self.positions: dict[str, Position] = {}
        self.strategy_qty: dict[tuple[str, str], Decimal] = {}
        self.realized_pnl = ZERO
        self.fees = ZERO
        self._cash_f = 0.0
        self._qty_f: dict[str, float] = {}
        self._mark_f: dict[str, float] = {}
        self._mtm_f = 0.0
        self.peak_equity_f = 0.0
        self.equity_floor_f = float("-inf")
        self.drawdown_keep = 0.0  # share of the peak below which the drawdown breaker trips
        self.next_day_ns = 0
        self.on_floor_breached: Callable[[float, int], None] | None = None
        self.on_new_day: Callable[[float, int], None] | None = None

    # ---- projection of events --------------------------------------------------------------
    def apply(self, event: Event) -> None:
        if type(event) is OrderFilled:
            self.apply_fill(event)
        elif type(event) is AccountFunded:
            self.account.adjust(event.currency, event.amount)
            self._refresh_cash()

    def apply_fill(self, fill: OrderFilled) -> None:
        iid = fill.instrument_id
        instrument = self._cache.instruments[iid]
        position = self.positions.get(iid)
        if position is None:
            position = self.positions[iid] = Position(iid)
        buy = fill.side is OrderSide.BUY
        self.account.apply_spot_fill(
            instrument.base, instrument.quote, buy, fill.last_qty, fill.last_px, fill.fee
        )
        self.realized_pnl += position.apply_fill(fill.side, fill.last_qty, fill.last_px, fill.fee)
        self.fees += fill.fee
        key = (fill.strategy_id, iid)
        signed = fill.last_qty if buy else -fill.last_qty
        self.strategy_qty[key] = self.strategy_qty.get(key, ZERO) + signed
        self._cash_f = float(self.account.totals.get(self.cash_currency, ZERO))
        mark = self._mark_f.get(iid)
        if mark is None:
            mark = float(fill.last_px)
        old_qty = self._qty_f.get(iid, 0.0)
        new_qty = float(position.quantity)
        self._qty_f[iid] = new_qty
        self._mark_f[iid] = mark
        self._mtm_f += (new_qty - old_qty) * mark
        topic = f"{POSITION_TOPIC}.{iid}"
        if not self._bus.subscriptions(topic):
            return
        self._bus.publish(
            topic,
            PositionChanged(
                ts_event=fill.ts_event,
                instrument_id=iid,
                quantity=position.quantity,
                avg_px=position.avg_px,
                realized_pnl=position.realized_pnl,
            ),
        )

    def _refresh_cash(self) -> None:
        self._cash_f = float(self.account.total(self.cash_currency))

    # ---- marking -----------------------------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        iid = bar.instrument_id
        qty = self._qty_f.get(iid)
        close = bar.close
        if qty:
            self._mtm_f += qty * (close - self._mark_f[iid])
        self._mark_f[iid] = close
        equity = self._cash_f + self._mtm_f
        if equity > self.peak_equity_f:
            self.peak_equity_f = equity
            trailing = equity * self.drawdown_keep
            self.equity_floor_f = max(self.equity_floor_f, trailing)
        elif equity < self.equity_floor_f and self.on_floor_breached is not None:
            self.on_floor_breached(equity, bar.ts_event)
        if bar.ts_event >= self.next_day_ns and self.on_new_day is not None:
            self.on_new_day(equity, bar.ts_event)

    @property
    def equity_f(self) -> float:
        return self._cash_f + self._mtm_f

    @property
    def drawdown_f(self) -> float:
        """Fraction below the running equity peak (0 at a new high)."""
        peak = self.peak_equity_f
        return 0.0 if peak <= 0 else max(0.0, 1.0 - self.equity_f / peak)

    # ---- exact reads ---------------------------------------------------------------------------
    def position_qty(self, instrument_id: str) -> Decimal:
        position = self.positions.get(instrument_id)
        return position.quantity if position is not None else ZERO

    def is_flat(self, instrument_id: str) -> bool:
        position = self.positions.get(instrument_id)
        return position is None or position.quantity == 0

    def mark_price(self, instrument_id: str) -> Decimal | None:
        return self._cache.last_price(instrument_id)

    def unrealized_pnl(self) -> Decimal:
        total = ZERO
        for iid, position in self.positions.items():
            mark = self.mark_price(iid)
            if mark is not None:
                total += position.unrealized_pnl(mark)
        return total

    def exposure(self, instrument_id: str | None = None) -> Decimal:
        total = ZERO
        for iid, position in self.positions.items():
            if instrument_id is not None and iid != instrument_id:
                continue
            mark = self.mark_price(iid) or position.avg_px
            total += abs(position.quantity) * mark
        return total

    def equity(self) -> Decimal:
        """Exact equity in the cash currency: cash + every position at its last price."""
        total = self.account.total(self.cash_currency)
        for iid, position in self.positions.items():
            mark = self.mark_price(iid) or position.avg_px
            total += position.quantity * mark
        return total

    def reserved(self, currency: str) -> Decimal:
        """Funds that open orders will consume: quote for buys (at limit or last price, plus the
        taker fee), base for sells. Computed from the open orders, so it can never drift."""
        total = ZERO
        if not self._cache.open_orders:
            return total
        for order in self._cache.open_orders.values():
            instrument = self._cache.instruments.get(order.instrument_id)
            if instrument is None:
                continue
            if order.side is OrderSide.BUY and instrument.quote == currency:
                px = order.price or order.trigger_price or self.mark_price(order.instrument_id)
                if px is not None:
                    total += order.leaves_qty * px * (1 + instrument.taker_fee)
            elif order.side is OrderSide.SELL and instrument.base == currency:
                total += order.leaves_qty
        return total

    def free(self, currency: str) -> Decimal:
        return self.account.free(currency) - self.reserved(currency)

    def strategy_exposure(self, strategy_id: str, instrument_id: str) -> Decimal:
        return self.strategy_qty.get((strategy_id, instrument_id), ZERO)
