"""Validator: value checks on normalized data; anything suspicious raises `Rejected`.

Checks, in order: prices > 0 and sizes >= 0; a bar's high >= max(open, close) and low <=
min(open, close); a quote's bid <= ask; staleness and future timestamps against the clock;
time order per instrument; duplicates (same trade id, same bar open); spikes.

Spikes are measured against the rolling median of the last `window` accepted prices, scaled by
the median absolute deviation (MAD x 1.4826 estimates a standard deviation without letting the
outliers themselves inflate it). A price is suspect only when all three hold: it is
`spike_mads` robust deviations and `spike_min_move` (relative) from the median (so a flat market,
MAD = 0, does not reject every tick), and the record *jumps* there: a trade or quote that far
from the last accepted price, a bar whose open is that far from the last close, or a close that
moved `extreme_move_sigmas` typical moves (robust σ of the recent price-to-price returns, so
the bar's own timescale sets it) and at least `extreme_move` (20 %: real 5-minute pumps of
14 % are in the shared data). A crash moves step by step
and a bar that falls 7 % in an hour opens where the last one closed; a bad print jumps away
alone. A real jump must not blind the platform: when `confirm_after` consecutive suspects stay on
the same side of the old median, the new level is accepted and the window restarts from it.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable

import msgspec

from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.engines.ingest.quarantine import Rejected


class ValidationRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    window: int = 64
    min_window: int = 16
    spike_mads: float = 12.0
    spike_min_move: float = 0.03
    confirm_after: int = 3
    extreme_move_sigmas: float = 30.0
    extreme_move: float = 0.2
    refresh_every: int = 32
    stale_after_ns: int = 0  # 0: no staleness check (replays and backtests run on data time)
    max_future_ns: int = 0  # 0: no check; live feeds use a few seconds
    duplicate_memory: int = 4096


class _Track:
    """Per-instrument memory: last time, recent ids, the price window and its robust scale."""

    __slots__ = (
        "ids",
        "last_ts",
        "mad",
        "median",
        "old_ids",
        "pending",
        "return_sigma",
        "since_refresh",
        "sorted",
        "window",
    )

    def __init__(self) -> None:
        self.last_ts = -1
        self.ids: set[str] = set()
        self.old_ids: set[str] = set()
        self.window: deque[float] = deque()
        self.sorted: list[float] = []
        self.median = 0.0
        self.mad = 0.0
        self.since_refresh = 0
        self.pending: list[float] = []
        self.return_sigma = 0.0


class Validator:
    def __init__(
        self, rules: ValidationRules | None = None, now_ns: Callable[[], int] | None = None
    ):
        self.rules = rules or ValidationRules()
        self._now = now_ns
        self._tracks: dict[str, _Track] = {}

    def _track(self, iid: str) -> _Track:
        track = self._tracks.get(iid)
        if track is None:
            track = self._tracks[iid] = _Track()
        return track

    def trade(self, tick: TradeTick) -> None:
        price = tick.price
        if not price > 0:
            raise Rejected("price_not_positive", f"price {price}")
        if not tick.size > 0:
            raise Rejected("size_not_positive", f"size {tick.size}")
        track = self._track(tick.instrument_id)
        self._check_time(track, tick.ts_event, allow_equal=True)
        trade_id = tick.trade_id
        if trade_id:
            if trade_id in track.ids or trade_id in track.old_ids:
                raise Rejected("duplicate", f"trade id {trade_id}")
            self._check_spike(track, price)
            self._remember(track, trade_id)
        else:
            self._check_spike(track, price)
        track.last_ts = tick.ts_event

    def bar(self, bar: Bar) -> None:
        o, h, low, c = bar.open, bar.high, bar.low, bar.close
        if not (o > 0 and h > 0 and low > 0 and c > 0):
            raise Rejected("price_not_positive", f"ohlc {o} {h} {low} {c}")
        if not bar.volume >= 0:
            raise Rejected("size_not_positive", f"volume {bar.volume}")
        if h < o or h < c:
            raise Rejected("high_below_open_close", f"high {h} < max(open {o}, close {c})")
        if low > o or low > c:
            raise Rejected("low_above_open_close", f"low {low} > min(open {o}, close {c})")
        track = self._track(bar.instrument_id)
        if bar.ts_open == track.last_ts:
            raise Rejected("duplicate", f"second bar opening at {bar.ts_open}")
        self._check_time(track, bar.ts_open, allow_equal=False)
        self._check_spike(track, c, o)
        track.last_ts = bar.ts_open

    def quote(self, quote: QuoteTick) -> None:
        bid, ask = quote.bid, quote.ask
        if not (bid > 0 and ask > 0):
            raise Rejected("price_not_positive", f"bid {bid} ask {ask}")
        if not (quote.bid_size >= 0 and quote.ask_size >= 0):
            raise Rejected("size_not_positive", f"sizes {quote.bid_size} {quote.ask_size}")
        if bid > ask:
            raise Rejected("crossed_quote", f"bid {bid} > ask {ask}")
        track = self._track(quote.instrument_id)
        self._check_time(track, quote.ts_event, allow_equal=True)
        self._check_spike(track, (bid + ask) * 0.5)
        track.last_ts = quote.ts_event

    def _check_time(self, track: _Track, ts: int, *, allow_equal: bool) -> None:
        if ts < track.last_ts or (ts == track.last_ts and not allow_equal):
            raise Rejected("out_of_order", f"ts {ts} after {track.last_ts}")
        rules = self.rules
        if self._now is not None and (rules.stale_after_ns or rules.max_future_ns):
            now = self._now()
            if rules.stale_after_ns and now - ts > rules.stale_after_ns:
                raise Rejected("stale", f"{(now - ts) / 1e9:.3f} s old")
            if rules.max_future_ns and ts - now > rules.max_future_ns:
                raise Rejected("future", f"{(ts - now) / 1e9:.3f} s ahead of the clock")

    def _remember(self, track: _Track, trade_id: str) -> None:
        """Two generations of ids: between duplicate_memory and twice that many are remembered."""
        ids = track.ids
        ids.add(trade_id)
        if len(ids) >= self.rules.duplicate_memory:
            track.old_ids = ids
            track.ids = set()

    def _check_spike(self, track: _Track, price: float, entry: float = 0.0) -> None:
        """entry: where the record starts (a bar's open); a move inside a bar is not a jump."""
        rules = self.rules
        if len(track.window) >= rules.min_window:
            median = track.median
            deviation = abs(price - median)
            floor = rules.spike_min_move
            last = track.window[-1]
            move = abs(price - last)
            if (
                deviation > rules.spike_mads * 1.4826 * track.mad
                and deviation > floor * median
                and (
                    abs((entry or price) - last) > floor * last
                    or move
                    > max(rules.extreme_move_sigmas * track.return_sigma, rules.extreme_move) * last
                )
            ):
                self._suspect(track, price, price > median)
                return
            if track.pending:
                track.pending.clear()
        self._accept_price(track, price)

    def _suspect(self, track: _Track, price: float, above: bool) -> None:
        """A level shift persists on the same side of the old median; a bad print does not."""
        pending = track.pending
        if pending and (pending[-1] > track.median) != above:
            pending.clear()
        pending.append(price)
        if len(pending) < self.rules.confirm_after:
            raise Rejected("spike", f"price {price} vs rolling median {track.median}")
        track.window.clear()
        track.sorted.clear()
        for level in pending:
            self._accept_price(track, level)
        pending.clear()

    def _accept_price(self, track: _Track, price: float) -> None:
        window = track.window
        ordered = track.sorted
        window.append(price)
        insort(ordered, price)
        if len(window) > self.rules.window:
            del ordered[bisect_left(ordered, window.popleft())]
        median = ordered[len(ordered) // 2]
        track.median = median
        track.since_refresh += 1
        if track.since_refresh >= self.rules.refresh_every or len(window) <= self.rules.min_window:
            track.since_refresh = 0
            deviations = sorted([abs(x - median) for x in ordered])
            track.mad = deviations[len(deviations) // 2]
            if len(window) > 1:
                prices = list(window)
                moves = sorted([abs(b / a - 1.0) for a, b in itertools.pairwise(prices)])
                track.return_sigma = 1.4826 * moves[len(moves) // 2]
