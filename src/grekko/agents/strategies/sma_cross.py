"""SMA cross, long/flat with a fixed quantity: buy on a golden cross while flat, sell to flat on a death cross."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from grekko.agents.strategies.base import Strategy
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide


class SmaCross(Strategy):
    name: ClassVar[str] = "sma_cross"
    param_types: ClassVar[dict[str, type]] = {
        "fast": int,
        "slow": int,
        "quantity": Decimal,
        "instrument": str,
    }

    def __init__(self, strategy_id: str | None = None, **params: object) -> None:
        super().__init__(strategy_id, **params)
        self.fast_n: int = self.params.get("fast", 10)
        self.slow_n: int = self.params.get("slow", 30)
        if not 0 < self.fast_n < self.slow_n:
            raise ValueError(
                f"sma_cross needs 0 < fast < slow, got fast={self.fast_n} slow={self.slow_n}"
            )
        self.quantity: Decimal = self.params.get("quantity", Decimal(1))
        if self.quantity <= 0:
            raise ValueError("sma_cross quantity must be positive")
        self.instrument_id: str = self.params.get("instrument", "")
        # ring buffer of the last `slow` closes; unwritten slots are 0.0 so warm-up needs no branch
        self._ring = [0.0] * self.slow_n
        self._slot = 0
        self._seen = 0
        self._fsum = 0.0
        self._ssum = 0.0
        self._prev_fast = 0.0
        self._prev_slow = 0.0

    def on_start(self) -> None:
        if not self.instrument_id:
            raise ValueError("sma_cross needs the instrument parameter")
        self.ctx.subscribe_bars(self.instrument_id, self.on_bar)

    def on_bar(self, bar: Bar) -> None:
        close = bar.close
        ring = self._ring
        slot = self._slot
        # (sum + close) - oldest: the same operations, in the same order, as a plain running-sum
        # loop, so every float comparison and therefore every decision matches it exactly
        fsum = self._fsum = self._fsum + close - ring[slot - self.fast_n]
        ssum = self._ssum = self._ssum + close - ring[slot]
        ring[slot] = close
        slot += 1
        self._slot = 0 if slot == self.slow_n else slot
        seen = self._seen = self._seen + 1
        if seen < self.slow_n:
            return
        fast = fsum / self.fast_n
        slow = ssum / self.slow_n
        if seen > self.slow_n:
            prev_fast = self._prev_fast
            prev_slow = self._prev_slow
            if prev_fast <= prev_slow and fast > slow:
                if self.ctx.is_flat(self.instrument_id):
                    self.ctx.submit_market(self.instrument_id, OrderSide.BUY, self.quantity)
            elif prev_fast >= prev_slow and fast < slow:
                held = self.ctx.position(self.instrument_id)
                if held > 0:
                    self.ctx.submit_market(self.instrument_id, OrderSide.SELL, held)
        self._prev_fast = fast
        self._prev_slow = slow
