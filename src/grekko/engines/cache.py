"""The kernel's shared read cache: instruments, orders, last prices. Engines write, everyone reads."""

from __future__ import annotations

from decimal import Decimal

from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.instruments import Instrument
from grekko.domain.orders import Order


class Cache:
    def __init__(self) -> None:
        self.instruments: dict[str, Instrument] = {}
        self.orders: dict[str, Order] = {}
        self.open_orders: dict[str, Order] = {}
        self.last_bar: dict[str, Bar] = {}
        self.last_trade: dict[str, TradeTick] = {}
        self.last_quote: dict[str, QuoteTick] = {}
        self._price_memo: dict[str, tuple[float, Decimal]] = {}

    def add_instrument(self, instrument: Instrument) -> None:
        self.instruments[instrument.id] = instrument

    def instrument(self, instrument_id: str) -> Instrument | None:
        return self.instruments.get(instrument_id)

    def order(self, client_order_id: str) -> Order | None:
        return self.orders.get(client_order_id)

    def add_order(self, order: Order) -> None:
        self.orders[order.client_order_id] = order

    def update_open(self, order: Order) -> None:
        if order.is_open:
            self.open_orders[order.client_order_id] = order
        else:
            self.open_orders.pop(order.client_order_id, None)

    def open_orders_for(self, instrument_id: str | None = None) -> list[Order]:
        return [
            o
            for o in self.open_orders.values()
            if instrument_id is None or o.instrument_id == instrument_id
        ]

    def last_price(self, instrument_id: str) -> Decimal | None:
        """The last observed price as money, quantized to the instrument."""
        instrument = self.instruments.get(instrument_id)
        px = self.last_px_float(instrument_id)
        if px is None or instrument is None:
            return None
        memo = self._price_memo.get(instrument_id)
        if memo is not None and memo[0] == px:
            return memo[1]
        price = instrument.make_price(px)
        self._price_memo[instrument_id] = (px, price)
        return price

    def last_px_float(self, instrument_id: str) -> float | None:
        """The newest of the last trade and the last bar close, as observed (a float)."""
        bar = self.last_bar.get(instrument_id)
        trade = self.last_trade.get(instrument_id)
        if trade is not None and (bar is None or trade.ts_event >= bar.ts_event):
            return trade.price
        return bar.close if bar is not None else None
