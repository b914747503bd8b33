"""SMA cross, long/flat with a fixed quantity: buy on a golden cross while flat, sell to flat on a death cross."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from grekko.agents.strategies.base import Strategy
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide


class SmaCross(Strategy):
    name = "sma_cross"
    param_types = {"fast": int, "slow": int, "quantity": Decimal, "instrument": str}

    def __init__(self, strategy_id: str | None = None, **params: object) -> None:
        super().__init__(strategy_id, **params)
        self.fast_n: int = self.params.get("fast", 10)
        self.slow_n: int = self.params.get("slow", 30)
        if not 0 < self.fast_n < self.slow_n:
            raise ValueError(f"sma_cross needs 0 < fast < slow, got fast={self.fast_n} slow={self.slow_n}")
        self.quantity: Decimal = self.params.get("quantity", Decimal(1))
        if self.quantity <= 0:
            raise ValueError("sma_cross quantity must be positive")
        self.instrument_id: str = self.params.get("instrument", "")
        self._window: deque[float] = deque()
        self._fsum = 0.0
        self._ssum = 0.0
        self._prev_fast: float | None = None
        self._prev_slow = 0.0

    def on_start(self) -> None:
        if not self.instrument_id:
            raise ValueError("sma_cross needs the instrument parameter")
        self.ctx.subscribe_bars(self.instrument_id, self.on_bar)

    def on_bar(self, bar: Bar) -> None:
        close = bar.close
        window = self._window
        window.append(close)
        fast_n = self.fast_n
        slow_n = self.slow_n
        # running sums in the same order of operations as a plain loop, so decisions match it exactly
        self._fsum += close
        self._ssum += close
        n = len(window)
        if n > fast_n:
            self._fsum -= window[n - 1 - fast_n]
        if n > slow_n:
            self._ssum -= window.popleft()
            n -= 1
        if n < slow_n:
            return
        fast = self._fsum / fast_n
        slow = self._ssum / slow_n
        prev_fast = self._prev_fast
        if prev_fast is not None:
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
