"""Mean reversion, long/flat: buy a close stretched below the lower Bollinger band while RSI is
oversold, sell once it is back above the middle band or RSI turns overbought.

Both conditions must hold to enter, so a steady slide (below the band but not oversold) or a
single sharp tick (oversold but inside the band) is left alone. An optional reduce-only stop
(`stop_pct` below the entry fill, 0 disables it) caps the loss when the reversion never comes.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from typing import ClassVar

from grekko.agents.strategies.base import Strategy
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderType
from grekko.domain.events import OrderFilled


class Bollinger:
    """Simple moving average of the last n closes plus/minus k population standard deviations."""

    __slots__ = ("_window", "k", "n", "value")

    def __init__(self, n: int, k: float) -> None:
        if n < 2 or k <= 0:
            raise ValueError(f"Bollinger needs period >= 2 and k > 0, got {n}, {k}")
        self.n = n
        self.k = k
        self._window: deque[float] = deque(maxlen=n)
        self.value: tuple[float, float, float] | None = None  # lower, middle, upper

    def update(self, x: float) -> tuple[float, float, float] | None:
        window = self._window
        window.append(x)
        if len(window) < self.n:
            return None
        mean = math.fsum(window) / self.n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in window) / self.n)
        self.value = (mean - self.k * std, mean, mean + self.k * std)
        return self.value


class WilderRsi:
    """Relative strength index with Wilder's smoothing: average gain and loss start as the plain
    means of the first n changes, then avg = (avg x (n - 1) + latest) / n. 100 when no losses."""

    __slots__ = ("_count", "_gain", "_loss", "_prev", "n", "value")

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"RSI period must be >= 1, got {n}")
        self.n = n
        self.value: float | None = None
        self._prev: float | None = None
        self._count = 0
        self._gain = 0.0
        self._loss = 0.0

    def update(self, x: float) -> float | None:
        prev, self._prev = self._prev, x
        if prev is None:
            return None
        change = x - prev
        gain, loss = max(change, 0.0), max(-change, 0.0)
        n = self.n
        if self._count < n:
            self._count += 1
            self._gain += gain / n
            self._loss += loss / n
            if self._count < n:
                return None
        else:
            self._gain = (self._gain * (n - 1) + gain) / n
            self._loss = (self._loss * (n - 1) + loss) / n
        self.value = 100.0 if self._loss == 0 else 100.0 - 100.0 / (1.0 + self._gain / self._loss)
        return self.value


class MeanReversion(Strategy):
    name: ClassVar[str] = "mean_reversion"
    param_types: ClassVar[dict[str, type]] = {
        "period": int,
        "k": float,
        "rsi": int,
        "oversold": float,
        "overbought": float,
        "stop_pct": Decimal,
        "quantity": Decimal,
        "instrument": str,
    }

    def __init__(self, strategy_id: str | None = None, **params: object) -> None:
        super().__init__(strategy_id, **params)
        self.period: int = self.params.get("period", 20)
        self.k: float = self.params.get("k", 2.0)
        self.rsi_n: int = self.params.get("rsi", 14)
        self.oversold: float = self.params.get("oversold", 30.0)
        self.overbought: float = self.params.get("overbought", 70.0)
        if not 0 <= self.oversold < self.overbought <= 100:
            raise ValueError("mean_reversion needs 0 <= oversold < overbought <= 100")
        self.stop_pct: Decimal = self.params.get("stop_pct", Decimal("0.05"))
        if not 0 <= self.stop_pct < 1:
            raise ValueError("mean_reversion stop_pct must be in [0, 1)")
        self.quantity: Decimal = self.params.get("quantity", Decimal(1))
        if self.quantity <= 0:
            raise ValueError("mean_reversion quantity must be positive")
        self.instrument_id: str = self.params.get("instrument", "")
        self.rationale = ""
        self._bands = Bollinger(self.period, self.k)
        self._rsi = WilderRsi(self.rsi_n)
        self._close = 0.0
        self._entry_id: str | None = None
        self._stop_id: str | None = None
        self.stop_price: Decimal | None = None

    def on_start(self) -> None:
        if not self.instrument_id:
            raise ValueError("mean_reversion needs the instrument parameter")
        self.ctx.subscribe_bars(self.instrument_id, self.on_bar)

    def signal(self) -> dict[str, object]:
        """The current indicator values, for explanations."""
        bands = self._bands.value
        lower, middle, upper = bands if bands is not None else (None, None, None)
        return {
            "close": self._close,
            "bb_lower": lower,
            "bb_middle": middle,
            "bb_upper": upper,
            "rsi": self._rsi.value,
            "stop": None if self.stop_price is None else str(self.stop_price),
        }

    def on_bar(self, bar: Bar) -> None:
        close = self._close = bar.close
        bands = self._bands.update(close)
        rsi = self._rsi.update(close)
        if bands is None or rsi is None:
            return
        lower, middle, _ = bands
        iid = self.instrument_id
        held = self.ctx.position(iid)
        if held <= 0:
            if close < lower and rsi < self.oversold and not self._working(OrderSide.BUY):
                self._enter(close, lower, middle, rsi)
        elif (close > middle or rsi > self.overbought) and not self._working(OrderSide.SELL):
            self._exit(close, middle, rsi, held)

    def on_fill(self, fill: OrderFilled) -> None:
        if fill.client_order_id == self._entry_id and fill.side is OrderSide.BUY:
            self._protect(fill.last_px)
        elif fill.client_order_id == self._stop_id and self.ctx.is_flat(self.instrument_id):
            self._stop_id = None
            self.stop_price = None

    def _enter(self, close: float, lower: float, middle: float, rsi: float) -> None:
        px = self.ctx.instrument(self.instrument_id).make_price
        self.rationale = (
            f"Close {px(close):,} fell below the lower Bollinger band {px(lower):,} "
            f"(SMA({self.period}) - {self.k:g} sd) with RSI({self.rsi_n}) at {rsi:.1f} < "
            f"{self.oversold:g}: price is stretched down. Buying {self.quantity} for a return "
            f"towards the middle band {px(middle):,}."
        )
        self._entry_id = self.ctx.submit_market(self.instrument_id, OrderSide.BUY, self.quantity)

    def _protect(self, entry: Decimal) -> None:
        held = self.ctx.position(self.instrument_id)
        if self.stop_pct <= 0 or held <= 0:
            return
        stop = self.ctx.instrument(self.instrument_id).make_price(entry * (1 - self.stop_pct))
        self._cancel_stop()
        self.rationale = (
            f"Bought at {entry:,}; a stop {self.stop_pct:%} lower at {stop:,} sells the "
            f"{held} held if the expected bounce does not come."
        )
        self._stop_id = self.ctx.submit_stop(
            self.instrument_id, OrderSide.SELL, held, stop, reduce_only=True
        )
        self.stop_price = stop if self._stop_id is not None else None

    def _exit(self, close: float, middle: float, rsi: float, held: Decimal) -> None:
        px = self.ctx.instrument(self.instrument_id).make_price
        if close > middle:
            why = f"close {px(close):,} is back above the middle band {px(middle):,}"
        else:
            why = f"RSI({self.rsi_n}) at {rsi:.1f} is above {self.overbought:g}, overbought"
        self._cancel_stop()
        self.rationale = f"Reversion done: {why}. Selling the {held} held to go flat."
        self.ctx.submit_market(self.instrument_id, OrderSide.SELL, held, reduce_only=True)

    def _cancel_stop(self) -> None:
        if self._stop_id is not None and any(
            o.client_order_id == self._stop_id for o in self.ctx.open_orders(self.instrument_id)
        ):
            self.ctx.cancel(self._stop_id)
        self._stop_id = None
        self.stop_price = None

    def _working(self, side: OrderSide) -> bool:
        """A market order of this side is already on its way: do not send a second one."""
        return any(
            o.order_type is OrderType.MARKET and o.side is side
            for o in self.ctx.open_orders(self.instrument_id)
        )
