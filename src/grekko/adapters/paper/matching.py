"""Where and how much a working order fills against one bar or one trade: pure decisions.

A bar's path inside the interval is unknown, so the rules are conservative for the trader:
- market orders fill at the bar's open (the first price after they arrived);
- stops trigger at the open if it already gapped through, else at the trigger price when the
  high/low touched it, and stops are evaluated before limits in the same bar (losses first);
- limits fill at the open if it is already better than the limit, else at the limit price only
  if the bar traded strictly through it (touching is not enough for a resting order), so a
  limit never gets a better price than it asked for on an uncertain touch.
"""

from __future__ import annotations

from decimal import Decimal

from grekko.domain.enums import LiquiditySide, OrderSide, OrderType
from grekko.domain.orders import Order


class Quote:
    """One market observation to match against: a bar (o/h/l) or a trade (all equal)."""

    __slots__ = ("high", "low", "open", "volume")

    def __init__(self, open_: float, high: float, low: float, volume: float) -> None:
        self.open = open_
        self.high = high
        self.low = low
        self.volume = volume


def stop_triggered(order: Order, q: Quote) -> float | None:
    """The price at which the stop triggers on this observation, or None."""
    trigger = order.trigger_price
    if trigger is None:
        return None
    t = float(trigger)
    if order.side is OrderSide.BUY:
        if q.open >= t:
            return q.open
        return t if q.high >= t else None
    if q.open <= t:
        return q.open
    return t if q.low <= t else None


def limit_fill_price(order: Order, q: Quote, *, strict: bool) -> tuple[float, LiquiditySide] | None:
    """Fill price for a limit order against this observation, or None."""
    limit = order.price
    if limit is None:
        return None
    px = float(limit)
    if order.side is OrderSide.BUY:
        if q.open <= px:
            return q.open, LiquiditySide.TAKER
        touched = q.low < px if strict else q.low <= px
    else:
        if q.open >= px:
            return q.open, LiquiditySide.TAKER
        touched = q.high > px if strict else q.high >= px
    return (px, LiquiditySide.MAKER) if touched else None


def match(order: Order, q: Quote, *, strict_limits: bool) -> tuple[float, LiquiditySide] | None:
    """Decide whether and at what price a working order fills now."""
    kind = order.order_type
    if kind is OrderType.MARKET:
        return q.open, LiquiditySide.TAKER
    if kind is OrderType.LIMIT:
        return limit_fill_price(order, q, strict=strict_limits)
    if not order.triggered:
        return None  # the venue triggers stops first, then asks again
    if kind is OrderType.STOP_MARKET:
        return None  # handled at trigger time by the venue
    return limit_fill_price(order, q, strict=strict_limits)


def slipped(px: float, side: OrderSide, slippage_bps: Decimal) -> float:
    if not slippage_bps:
        return px
    factor = float(slippage_bps) / 10_000.0
    return px * (1.0 + factor) if side is OrderSide.BUY else px * (1.0 - factor)


def stop_order_rank(order: Order) -> int:
    """Stops first, then limits: the conservative order of events inside one bar."""
    return 0 if order.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) else 1
