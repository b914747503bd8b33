"""Market making after Avellaneda & Stoikov (2008): resting limit quotes around a reservation price.

Units (they give gamma its meaning): prices are in percent of log-price, x = 100 ln(price), so
sigma is the per-bar standard deviation of log returns in percent and kappa is per percent;
the inventory q is counted in lots of `quantity` (q = position / quantity). The horizon rolls:
T - t is always `horizon_bars`, so the session never reaches an end where the inventory term
vanishes. On every bar (and every trade with on_trades=true) the quotes are recomputed from:

- sigma over the last `vol_window` bars,
- A and kappa from the last `intensity_window` bars: each bar's excursions high/open and
  open/low are distances at which a quote resting at the open would have been hit,
- r = x - q gamma sigma^2 (T - t) and the total spread gamma sigma^2 (T - t) + (2/gamma) ln(1 + gamma/kappa),

then a bid at r - spread/2 (rounded down to the tick) and an ask at r + spread/2 (rounded up),
never at or through the last price and at least `min_spread_ticks` apart. A side whose quote
lands farther than `max_quote_pct` from the last price is not quoted (the model is then saying
it does not want that trade anywhere near the market, and risk would deny a far-off price). A
quote whose price and size are unchanged is left working; any other is canceled and replaced.

Spot only, no short selling: the ask is quoted only for inventory held (at most `quantity`), and
no bid is quoted once the position would exceed `max_inventory` (base units). Quotes are
post-only by default; the paper venue cancels a post-only quote that the next bar opens
through instead of filling it as a taker.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import ClassVar

from grekko.agents.strategies import as_model
from grekko.agents.strategies.base import Strategy
from grekko.core.money import quantize
from grekko.domain.data import Bar, TradeTick
from grekko.domain.enums import OrderSide, OrderType
from grekko.domain.orders import Order

TRUE_TEXT = frozenset({"1", "true", "yes", "on"})
FALSE_TEXT = frozenset({"0", "false", "no", "off"})


def parse_flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in TRUE_TEXT:
        return True
    if value in FALSE_TEXT:
        return False
    raise ValueError(f"avellaneda_stoikov: parameter {name}={text!r} is not true/false")


class AvellanedaStoikov(Strategy):
    name: ClassVar[str] = "avellaneda_stoikov"
    param_types: ClassVar[dict[str, type]] = {
        "gamma": float,
        "horizon_bars": int,
        "quantity": Decimal,
        "max_inventory": Decimal,
        "vol_window": int,
        "intensity_window": int,
        "min_spread_ticks": int,
        "max_quote_pct": Decimal,
        "on_trades": str,
        "post_only": str,
        "instrument": str,
    }

    def __init__(self, strategy_id: str | None = None, **params: object) -> None:
        super().__init__(strategy_id, **params)
        p = self.params
        self.gamma: float = p.get("gamma", 0.1)
        self.horizon_bars: int = p.get("horizon_bars", 60)
        self.quantity: Decimal = p.get("quantity", Decimal(1))
        self.max_inventory: Decimal = p.get("max_inventory", self.quantity * 10)
        self.vol_window: int = p.get("vol_window", 60)
        self.intensity_window: int = p.get("intensity_window", 120)
        self.min_spread_ticks: int = p.get("min_spread_ticks", 2)
        self.max_quote_pct: Decimal = p.get("max_quote_pct", Decimal("0.05"))
        self.on_trades = parse_flag("on_trades", p.get("on_trades", "false"))
        self.post_only = parse_flag("post_only", p.get("post_only", "true"))
        self.instrument_id: str = p.get("instrument", "")
        self._validate()
        self.rationale = ""
        self._closes: deque[float] = deque(maxlen=self.vol_window + 1)
        self._excursions: deque[float] = deque(maxlen=2 * self.intensity_window)
        self._quotes: dict[OrderSide, str] = {}
        # the latest estimates and quotes, for inspection
        self.mid: float | None = None
        self.sigma: float | None = None  # percent per bar
        self.kappa: float | None = None  # per percent
        self.A: float | None = None
        self.fitted = False
        self.inventory = 0.0  # lots
        self.reservation: float | None = None  # price
        self.spread: float | None = None  # price distance ask - bid, before rounding
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None

    def _validate(self) -> None:
        if not self.gamma > 0 or not math.isfinite(self.gamma):
            raise ValueError("avellaneda_stoikov gamma must be positive")
        if self.horizon_bars < 1 or self.vol_window < 2 or self.intensity_window < 2:
            raise ValueError(
                "avellaneda_stoikov needs horizon_bars >= 1, vol_window >= 2, intensity_window >= 2"
            )
        if self.quantity <= 0 or self.max_inventory < self.quantity:
            raise ValueError("avellaneda_stoikov needs 0 < quantity <= max_inventory")
        if self.min_spread_ticks < 1:
            raise ValueError("avellaneda_stoikov min_spread_ticks must be >= 1")
        if not 0 < self.max_quote_pct < 1:
            raise ValueError("avellaneda_stoikov max_quote_pct must be in (0, 1)")

    def on_start(self) -> None:
        if not self.instrument_id:
            raise ValueError("avellaneda_stoikov needs the instrument parameter")
        self.ctx.subscribe_bars(self.instrument_id, self.on_bar)
        if self.on_trades:
            self.ctx.subscribe_trades(self.instrument_id, self.on_trade)

    def estimates(self) -> dict[str, object]:
        """The model's current state: estimates in model units, prices in quote currency."""
        return {
            "mid": self.mid,
            "sigma_pct": self.sigma,
            "kappa": self.kappa,
            "A": self.A,
            "fitted": self.fitted,
            "inventory_lots": self.inventory,
            "time_left_bars": self.horizon_bars,
            "reservation": self.reservation,
            "spread": self.spread,
            "bid": None if self.bid is None else str(self.bid),
            "ask": None if self.ask is None else str(self.ask),
        }

    def signal(self) -> dict[str, object]:
        return self.estimates()

    def on_bar(self, bar: Bar) -> None:
        self._closes.append(bar.close)
        if bar.open > 0 and bar.low > 0:
            self._excursions.append(100.0 * math.log(bar.high / bar.open))
            self._excursions.append(100.0 * math.log(bar.open / bar.low))
        self._estimate()
        self._requote(bar.close)

    def on_trade(self, tick: TradeTick) -> None:
        self._requote(tick.price)

    # ---- model ---------------------------------------------------------------------------------
    def _estimate(self) -> None:
        """Refresh sigma, A and kappa once the windows are full; a degenerate intensity fit
        keeps the previous estimate (see as_model.fit_intensity for its own fallback)."""
        if len(self._closes) == self._closes.maxlen:
            self.sigma = 100.0 * as_model.log_return_sigma(list(self._closes))
        if len(self._excursions) == self._excursions.maxlen:
            fit = as_model.fit_intensity(self._excursions)
            if fit is not None:
                self.A, self.kappa, self.fitted = fit.A, fit.kappa, fit.fitted

    def _model_quotes(self, mid: float) -> tuple[float, float] | None:
        sigma, kappa = self.sigma, self.kappa
        if sigma is None or kappa is None or not mid > 0:
            return None
        self.mid = mid
        self.inventory = float(self.ctx.position(self.instrument_id) / self.quantity)
        x = 100.0 * math.log(mid)
        args = (self.gamma, sigma, float(self.horizon_bars))
        r = as_model.reservation_price(x, self.inventory, *args)
        half = as_model.optimal_spread(*args, kappa) / 2.0
        bid, ask = math.exp((r - half) / 100.0), math.exp((r + half) / 100.0)
        self.reservation = math.exp(r / 100.0)
        self.spread = ask - bid
        return bid, ask

    def _prices(self, mid: float, bid_f: float, ask_f: float) -> tuple[Decimal, Decimal]:
        """Round outwards to the tick, keep off the last price, and keep the minimum width."""
        tick = self.ctx.instrument(self.instrument_id).price_increment
        last = quantize(Decimal(repr(mid)), tick)
        bid = min(quantize(Decimal(repr(bid_f)), tick, ROUND_FLOOR), last - tick)
        ask = max(quantize(Decimal(repr(ask_f)), tick, ROUND_CEILING), last + tick)
        short = self.min_spread_ticks - int((ask - bid) / tick)
        if short > 0:
            bid -= tick * (short // 2)
            ask += tick * (short - short // 2)
        return bid, ask

    # ---- quoting -------------------------------------------------------------------------------
    def _requote(self, mid: float) -> None:
        model = self._model_quotes(mid)
        if model is None:
            return
        bid, ask = self.bid, self.ask = self._prices(mid, *model)
        held = self.ctx.position(self.instrument_id)
        make_qty = self.ctx.instrument(self.instrument_id).make_qty
        reach = Decimal(repr(mid)) * self.max_quote_pct
        near_bid = bid > 0 and Decimal(repr(mid)) - bid <= reach
        near_ask = ask - Decimal(repr(mid)) <= reach
        bid_qty = make_qty(min(self.quantity, self.max_inventory - held)) if near_bid else None
        ask_qty = make_qty(min(self.quantity, held)) if held > 0 and near_ask else None
        self._quote(OrderSide.BUY, bid, bid_qty)
        self._quote(OrderSide.SELL, ask, ask_qty)

    def _quote(self, side: OrderSide, price: Decimal, qty: Decimal | None) -> None:
        working = self._working(side)
        if working is not None:
            if qty is not None and working.price == price and working.leaves_qty == qty:
                return
            self.ctx.cancel(working.client_order_id)
            self._quotes.pop(side, None)
        if qty is None or qty <= 0:
            return
        self.rationale = self._why(side, price, qty)
        cid = self.ctx.submit_limit(self.instrument_id, side, qty, price, post_only=self.post_only)
        if cid is not None:
            self._quotes[side] = cid

    def _working(self, side: OrderSide) -> Order | None:
        cid = self._quotes.get(side)
        if cid is None:
            return None
        for order in self.ctx.open_orders(self.instrument_id):
            if order.client_order_id == cid and order.order_type is OrderType.LIMIT:
                return order
        self._quotes.pop(side, None)
        return None

    def _why(self, side: OrderSide, price: Decimal, qty: Decimal) -> str:
        r, mid = self.reservation or 0.0, self.mid or 0.0
        q = self.inventory
        where = "below" if q > 0 else "above" if q < 0 else "at"
        verb = "Bidding" if side is OrderSide.BUY else "Offering"
        return (
            f"{verb} {qty} at {price:,}: quotes straddle the reservation price {r:,.2f}, {where} "
            f"the mid {mid:,.2f} for an inventory of {q:g} lots. Spread "
            f"{self.spread or 0.0:,.2f} from sigma {self.sigma or 0.0:.3f}%/bar, "
            f"kappa {self.kappa or 0.0:.2f}/% and gamma {self.gamma:g}."
        )
