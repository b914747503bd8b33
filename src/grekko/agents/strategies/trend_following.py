"""Trend following, long/flat: EMA cross entries, an ATR stop that trails up, exit on the reverse cross.

Buy `quantity` on a golden cross (fast EMA crosses above slow) while flat. Once the buy fills,
a reduce-only stop sells the position at (signal close - atr_mult x ATR); it only moves up, on a
new closing high, to (close - atr_mult x ATR). A death cross cancels the stop and sells.
The stop cannot be sent with the entry: a spot account has no base to reserve for it yet.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from grekko.agents.strategies.base import Strategy
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderType
from grekko.domain.events import OrderFilled


class Ema:
    """Exponential moving average seeded with the simple mean of its first n inputs."""

    __slots__ = ("_count", "_sum", "alpha", "n", "value")

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"EMA period must be >= 1, got {n}")
        self.n = n
        self.alpha = 2.0 / (n + 1.0)
        self.value: float | None = None
        self._count = 0
        self._sum = 0.0

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value = self.alpha * x + (1.0 - self.alpha) * self.value
            return self.value
        self._count += 1
        self._sum += x
        if self._count == self.n:
            self.value = self._sum / self.n
        return self.value


class WilderAtr:
    """Average true range with Wilder's smoothing: the mean of the first n true ranges, then
    atr = (atr x (n - 1) + tr) / n. The first bar's true range is its high - low."""

    __slots__ = ("_count", "_prev_close", "_sum", "n", "value")

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"ATR period must be >= 1, got {n}")
        self.n = n
        self.value: float | None = None
        self._prev_close: float | None = None
        self._count = 0
        self._sum = 0.0

    def update(self, high: float, low: float, close: float) -> float | None:
        prev = self._prev_close
        tr = high - low if prev is None else max(high - low, abs(high - prev), abs(low - prev))
        self._prev_close = close
        if self.value is not None:
            self.value = (self.value * (self.n - 1) + tr) / self.n
            return self.value
        self._count += 1
        self._sum += tr
        if self._count == self.n:
            self.value = self._sum / self.n
        return self.value


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


class TrendFollowing(Strategy):
    name: ClassVar[str] = "trend_following"
    param_types: ClassVar[dict[str, type]] = {
        "fast": int,
        "slow": int,
        "atr": int,
        "atr_mult": Decimal,
        "quantity": Decimal,
        "instrument": str,
    }

    def __init__(self, strategy_id: str | None = None, **params: object) -> None:
        super().__init__(strategy_id, **params)
        self.fast_n: int = self.params.get("fast", 12)
        self.slow_n: int = self.params.get("slow", 26)
        if not 0 < self.fast_n < self.slow_n:
            raise ValueError(
                f"trend_following needs 0 < fast < slow, got fast={self.fast_n} slow={self.slow_n}"
            )
        self.atr_n: int = self.params.get("atr", 14)
        if self.atr_n < 1:
            raise ValueError("trend_following atr must be >= 1")
        self.atr_mult: Decimal = self.params.get("atr_mult", Decimal(3))
        if self.atr_mult <= 0:
            raise ValueError("trend_following atr_mult must be positive")
        self.quantity: Decimal = self.params.get("quantity", Decimal(1))
        if self.quantity <= 0:
            raise ValueError("trend_following quantity must be positive")
        self.instrument_id: str = self.params.get("instrument", "")
        self.rationale = ""
        self._fast = Ema(self.fast_n)
        self._slow = Ema(self.slow_n)
        self._atr = WilderAtr(self.atr_n)
        self._prev: tuple[float, float] | None = None
        self._close = 0.0
        self._entry_id: str | None = None
        self._entry_close = Decimal(0)
        self._pending_stop: Decimal | None = None
        self._stop_id: str | None = None
        self.stop_price: Decimal | None = None
        self._best_close = 0.0

    def on_start(self) -> None:
        if not self.instrument_id:
            raise ValueError("trend_following needs the instrument parameter")
        self.ctx.subscribe_bars(self.instrument_id, self.on_bar)

    def signal(self) -> dict[str, object]:
        """The current indicator values, for explanations."""
        fast, slow = self._fast.value, self._slow.value
        trend = None if fast is None or slow is None else ("up" if fast > slow else "down")
        return {
            "close": self._close,
            "ema_fast": fast,
            "ema_slow": slow,
            "atr": self._atr.value,
            "trend": trend,
            "stop": None if self.stop_price is None else str(self.stop_price),
        }

    def on_bar(self, bar: Bar) -> None:
        close = self._close = bar.close
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        atr = self._atr.update(bar.high, bar.low, close)
        if fast is None or slow is None:
            return
        prev, self._prev = self._prev, (fast, slow)
        if prev is None or atr is None:
            return
        iid = self.instrument_id
        if prev[0] <= prev[1] and fast > slow:
            if self.ctx.is_flat(iid) and not self._entry_working():
                self._enter(close, fast, slow, atr)
        elif prev[0] >= prev[1] and fast < slow:
            if self.ctx.position(iid) > 0:
                self._exit(close)
        elif self.ctx.position(iid) > 0:
            self._trail(close, atr)

    def on_fill(self, fill: OrderFilled) -> None:
        if fill.client_order_id == self._entry_id and fill.side is OrderSide.BUY:
            self._protect()
        elif fill.client_order_id == self._stop_id and self.ctx.is_flat(self.instrument_id):
            self._stop_id = None
            self.stop_price = None

    # ---- decisions -----------------------------------------------------------------------------
    def _enter(self, close: float, fast: float, slow: float, atr: float) -> None:
        instrument = self.ctx.instrument(self.instrument_id)
        self._entry_close = instrument.make_price(close)
        stop = instrument.make_price(_dec(close) - self.atr_mult * _dec(atr))
        self._pending_stop = stop if stop > 0 else None
        self._best_close = close
        self.rationale = (
            f"EMA({self.fast_n}) {fast:,.2f} crossed above EMA({self.slow_n}) {slow:,.2f} at "
            f"{self._entry_close:,}: the short-term trend turned up. Buying {self.quantity}; "
            f"stop at {stop:,} ({self.atr_mult}x ATR {atr:,.2f} below)."
        )
        self._entry_id = self.ctx.submit_market(self.instrument_id, OrderSide.BUY, self.quantity)

    def _protect(self) -> None:
        """Stop for everything held, replacing any earlier one (an entry may fill in parts)."""
        held = self.ctx.position(self.instrument_id)
        stop = self._pending_stop
        if held <= 0 or stop is None:
            return
        self._cancel_stop()
        self.rationale = (
            f"Protective stop for the {held} bought at about {self._entry_close:,}: sell if the "
            f"price falls to {stop:,}, {self.atr_mult}x ATR below the entry signal."
        )
        self._place_stop(held, stop)

    def _trail(self, close: float, atr: float) -> None:
        if close <= self._best_close or self.stop_price is None or not self._stop_working():
            return
        self._best_close = close
        instrument = self.ctx.instrument(self.instrument_id)
        candidate = instrument.make_price(_dec(close) - self.atr_mult * _dec(atr))
        if candidate <= self.stop_price:
            return
        held = self.ctx.position(self.instrument_id)
        previous = self.stop_price
        self._cancel_stop()
        self.rationale = (
            f"New closing high {instrument.make_price(close):,}: trailing the stop up from "
            f"{previous:,} to {candidate:,} ({self.atr_mult}x ATR {atr:,.2f} below the close)."
        )
        self._place_stop(held, candidate)

    def _exit(self, close: float) -> None:
        iid = self.instrument_id
        stop = self.stop_price
        self._cancel_stop()
        held = self.ctx.position(iid)
        if held <= 0:
            return
        price = self.ctx.instrument(iid).make_price(close)
        dropped = f" and canceling the stop at {stop:,}" if stop is not None else ""
        self.rationale = (
            f"EMA({self.fast_n}) crossed below EMA({self.slow_n}) at {price:,}: the short-term "
            f"trend turned down. Selling the {held} held{dropped}."
        )
        self.ctx.submit_market(iid, OrderSide.SELL, held, reduce_only=True)

    # ---- order bookkeeping ---------------------------------------------------------------------
    def _place_stop(self, held: Decimal, stop: Decimal) -> None:
        self._stop_id = self.ctx.submit_stop(
            self.instrument_id, OrderSide.SELL, held, stop, reduce_only=True
        )
        self.stop_price = stop if self._stop_id is not None else None

    def _cancel_stop(self) -> None:
        if self._stop_id is not None and self._stop_working():
            self.ctx.cancel(self._stop_id)
        self._stop_id = None
        self.stop_price = None

    def _stop_working(self) -> bool:
        return any(
            o.client_order_id == self._stop_id for o in self.ctx.open_orders(self.instrument_id)
        )

    def _entry_working(self) -> bool:
        return any(
            o.order_type is OrderType.MARKET and o.side is OrderSide.BUY
            for o in self.ctx.open_orders(self.instrument_id)
        )
