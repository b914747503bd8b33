"""Aggregator: one symbol seen on several venues merged into one composite view.

Best bid is the highest bid of any venue and best ask the lowest ask, from quotes no older than
`max_age_ns` (a dead venue's stale quote must not look like the best price). The consensus last
price is the median of the venues' last trade prices (robust to one venue printing nonsense),
and the VWAP is over all venues' trades inside a sliding window.
"""

from __future__ import annotations

from collections import deque
from statistics import median

from grekko.core.ids import split_instrument_id
from grekko.domain.data import QuoteTick, TradeTick
from grekko.domain.indicators import CompositePrice


class _Symbol:
    __slots__ = ("last", "pv", "quotes", "trades", "volume")

    def __init__(self) -> None:
        self.quotes: dict[str, QuoteTick] = {}
        self.last: dict[str, float] = {}
        self.trades: deque[tuple[int, float, float]] = deque()
        self.pv = 0.0
        self.volume = 0.0


class VenueAggregator:
    """Composites are only worth their cost for symbols seen on two or more venues: `wanted` says."""

    def __init__(self, max_age_ns: int = 10 * 10**9, vwap_window_ns: int = 60 * 10**9) -> None:
        self.max_age_ns = max_age_ns
        self.vwap_window_ns = vwap_window_ns
        self._symbols: dict[str, _Symbol] = {}
        self._split: dict[str, tuple[str, str]] = {}
        self._venues: dict[str, set[str]] = {}
        self._wanted: dict[str, bool] = {}
        self._by_symbol: dict[str, list[str]] = {}

    def wanted(self, iid: str) -> bool:
        """True once the instrument's symbol has been seen on a second venue."""
        flag = self._wanted.get(iid)
        if flag is None:
            symbol, venue = self._parts(iid)
            self._venues.setdefault(symbol, set()).add(venue)
            self._by_symbol.setdefault(symbol, []).append(iid)
            multi = len(self._venues[symbol]) > 1
            for known in self._by_symbol[symbol]:
                self._wanted[known] = multi
            flag = multi
        return flag

    def _parts(self, iid: str) -> tuple[str, str]:
        parts = self._split.get(iid)
        if parts is None:
            parts = self._split[iid] = split_instrument_id(iid)
        return parts

    def _symbol(self, symbol: str) -> _Symbol:
        state = self._symbols.get(symbol)
        if state is None:
            state = self._symbols[symbol] = _Symbol()
        return state

    def on_quote(self, quote: QuoteTick) -> CompositePrice:
        symbol, venue = self._parts(quote.instrument_id)
        state = self._symbol(symbol)
        state.quotes[venue] = quote
        return self._composite(symbol, state, quote.ts_event)

    def on_trade(self, tick: TradeTick) -> CompositePrice:
        symbol, venue = self._parts(tick.instrument_id)
        state = self._symbol(symbol)
        state.last[venue] = tick.price
        now = tick.ts_event
        state.trades.append((now, tick.price, tick.size))
        state.pv += tick.price * tick.size
        state.volume += tick.size
        horizon = now - self.vwap_window_ns
        trades = state.trades
        while trades and trades[0][0] < horizon:
            _, price, size = trades.popleft()
            state.pv -= price * size
            state.volume -= size
        if len(trades) == 1:  # restart the sums so float drift cannot accumulate
            state.pv = tick.price * tick.size
            state.volume = tick.size
        return self._composite(symbol, state, now)

    def _composite(self, symbol: str, state: _Symbol, now: int) -> CompositePrice:
        fresh = [q for q in state.quotes.values() if now - q.ts_event <= self.max_age_ns]
        best_bid = max(fresh, key=lambda q: q.bid, default=None)
        best_ask = min(fresh, key=lambda q: q.ask, default=None)
        venues = set(state.last) | {self._parts(q.instrument_id)[1] for q in fresh}
        return CompositePrice(
            symbol=symbol,
            ts_event=now,
            venues=len(venues),
            best_bid=best_bid.bid if best_bid else None,
            best_bid_venue=self._parts(best_bid.instrument_id)[1] if best_bid else "",
            best_ask=best_ask.ask if best_ask else None,
            best_ask_venue=self._parts(best_ask.instrument_id)[1] if best_ask else "",
            median_last=median(state.last.values()) if state.last else None,
            vwap=state.pv / state.volume if state.volume > 1e-12 else None,
        )
