"""Netting positions: average price, realized PnL and fees, through long <-> short flips."""

from __future__ import annotations

from decimal import Decimal

from grekko.core.money import ZERO
from grekko.domain.enums import OrderSide


class Position:
    __slots__ = ("avg_px", "fees", "instrument_id", "quantity", "realized_pnl", "volume")

    def __init__(self, instrument_id: str) -> None:
        self.instrument_id = instrument_id
        self.quantity: Decimal = ZERO  # signed: > 0 long, < 0 short
        self.avg_px: Decimal = ZERO
        self.realized_pnl: Decimal = ZERO  # price PnL only; fees are kept apart
        self.fees: Decimal = ZERO
        self.volume: Decimal = ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    def apply_fill(self, side: OrderSide, qty: Decimal, px: Decimal, fee: Decimal) -> Decimal:
        """Apply one fill; returns the PnL it realized."""
        if qty <= 0:
            raise ValueError("fill quantity must be positive")
        signed = qty if side is OrderSide.BUY else -qty
        held = self.quantity
        realized = ZERO
        if held == 0:
            new_qty = signed
            self.avg_px = px
        elif (held > 0) == (signed > 0):
            new_qty = held + signed
            self.avg_px = (self.avg_px * abs(held) + px * qty) / abs(new_qty)
        else:
            closed = min(qty, abs(held))
            direction = 1 if held > 0 else -1
            realized = (px - self.avg_px) * closed * direction
            new_qty = held + signed
            if new_qty == 0:
                self.avg_px = ZERO
            elif (new_qty > 0) != (held > 0):
                self.avg_px = px  # flipped: the remainder opened at this fill's price
        self.quantity = new_qty
        self.realized_pnl += realized
        self.fees += fee
        self.volume += qty
        return realized

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        if self.quantity == 0:
            return ZERO
        return (mark - self.avg_px) * self.quantity
