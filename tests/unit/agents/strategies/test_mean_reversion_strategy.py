"""mean_reversion through the real kernel on the bundled BTCUSDT 1m slice.

Bollinger bands are checked against talipp's BB; RSI against a textbook Wilder RSI written
here from its definition, since talipp seeds its averages differently.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from strategy_run_support import Watched, btc_frame, watch
from talipp.indicators import BB

from grekko.agents.strategies.mean_reversion import Bollinger, MeanReversion, WilderRsi
from grekko.core.errors import ConfigError
from grekko.domain.enums import OrderSide, OrderStatus, OrderType
from grekko.domain.events import OrderFilled

PERIOD, K, RSI_N = 20, 2.0, 14


def textbook_rsi(closes: list[float], n: int) -> list[float | None]:
    changes = [b - a for a, b in itertools.pairwise(closes)]
    out: list[float | None] = [None] * len(closes)
    if len(changes) < n:
        return out
    gain = sum(max(c, 0.0) for c in changes[:n]) / n
    loss = sum(max(-c, 0.0) for c in changes[:n]) / n
    for i in range(n, len(closes)):
        if i > n:
            c = changes[i - 1]
            gain = (gain * (n - 1) + max(c, 0.0)) / n
            loss = (loss * (n - 1) + max(-c, 0.0)) / n
        out[i] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return btc_frame()


@pytest.fixture(scope="module")
def ref(frame: pd.DataFrame) -> dict[str, list[Any]]:
    closes = frame["close"].tolist()
    return {"bb": list(BB(PERIOD, K, closes)), "rsi": textbook_rsi(closes, RSI_N)}


@pytest.fixture(scope="module")
def mr() -> Watched:
    return watch("mean_reversion", {})


def test_bands_and_rsi_equal_independent_references(
    frame: pd.DataFrame, ref: dict[str, list[Any]]
) -> None:
    bands, rsi = Bollinger(PERIOD, K), WilderRsi(RSI_N)
    for i, close in enumerate(frame["close"].tolist()):
        mine, theirs = bands.update(close), ref["bb"][i]
        if theirs is None:
            assert mine is None
        else:
            assert mine == pytest.approx((theirs.lb, theirs.cb, theirs.ub), rel=1e-9)
        assert rsi.update(close) == (
            None if ref["rsi"][i] is None else pytest.approx(ref["rsi"][i], rel=1e-9, abs=1e-9)
        )
    assert rsi.value is not None
    assert 0 <= rsi.value <= 100


def entry_bars(frame: pd.DataFrame, ref: dict[str, list[Any]]) -> set[int]:
    out = set()
    for i, close in enumerate(frame["close"].tolist()):
        band, rsi = ref["bb"][i], ref["rsi"][i]
        if band is not None and rsi is not None and close < band.lb and rsi < 30:
            out.add(int(frame["ts"].iloc[i]))
    return out


def test_entries_are_exactly_the_oversold_closes_below_the_band_while_flat(
    mr: Watched, frame: pd.DataFrame, ref: dict[str, list[Any]]
) -> None:
    buys = [o for o in mr.orders if o.side is OrderSide.BUY]
    assert len(buys) > 20
    assert all(o.order_type is OrderType.MARKET for o in buys)
    expected = {ts for ts in entry_bars(frame, ref) if mr.at(ts).position == 0}
    assert {o.events[0].ts_event for o in buys} == expected
    text = mr.rationales[buys[0].client_order_id]
    assert "below the lower Bollinger band" in text
    assert f"RSI({RSI_N})" in text


def test_exits_are_the_first_reverted_bar_of_each_position(
    mr: Watched, frame: pd.DataFrame, ref: dict[str, list[Any]]
) -> None:
    sells = [o for o in mr.orders if o.side is OrderSide.SELL and o.order_type is OrderType.MARKET]
    assert len(sells) > 20
    # a snapshot's position is the one the strategy saw: its market orders fill on the next bar
    expected = {
        snap.ts
        for i, snap in enumerate(mr.snapshots)
        if snap.position > 0 and (snap.close > ref["bb"][i].cb or ref["rsi"][i] > 70)
    }
    assert {o.events[0].ts_event for o in sells} == expected
    for sell in sells:
        assert sell.reduce_only
        assert sell.quantity == mr.at(sell.events[0].ts_event).position
        assert mr.rationales[sell.client_order_id].startswith("Reversion done:")


def test_each_entry_fill_gets_a_stop_five_percent_below(mr: Watched) -> None:
    ordered = mr.by_seq()
    instrument = mr.strategy.ctx.instrument(mr.strategy.instrument_id)
    checked = 0
    for n, buy in enumerate(ordered):
        if buy.side is not OrderSide.BUY or buy.status is not OrderStatus.FILLED:
            continue
        fill = next(e for e in buy.events if type(e) is OrderFilled)
        stop = ordered[n + 1]
        assert stop.order_type is OrderType.STOP_MARKET
        assert stop.side is OrderSide.SELL
        assert stop.reduce_only
        assert stop.quantity == fill.last_qty
        assert stop.trigger_price == instrument.make_price(fill.last_px * Decimal("0.95"))
        assert "a stop 5% lower at" in mr.rationales[stop.client_order_id]
        checked += 1
    assert checked > 20
    for snap in mr.snapshots:
        stops = [o for o in snap.open_orders if o.order_type is OrderType.STOP_MARKET]
        assert len(stops) <= 1
        if snap.position == 0:
            assert not stops
    assert set(mr.positions_after_fill) <= {Decimal(0), Decimal(1)}


def test_a_tight_stop_fires_and_leaves_the_account_flat() -> None:
    run = watch("mean_reversion", {"stop_pct": "0.002"})
    stopped = [
        o
        for o in run.orders
        if o.order_type is OrderType.STOP_MARKET and o.status is OrderStatus.FILLED
    ]
    assert len(stopped) >= 3
    for stop in stopped:
        fill = next(e for e in stop.events if type(e) is OrderFilled)
        assert stop.trigger_price is not None
        assert fill.last_px <= stop.trigger_price
    assert min(run.positions_after_fill) == 0
    assert max(run.positions_after_fill) == 1


def test_stop_pct_zero_places_no_stop_and_signal_reports_the_indicators() -> None:
    run = watch("mean_reversion", {"stop_pct": "0", "k": "1.5", "oversold": "35"})
    assert not [o for o in run.orders if o.order_type is OrderType.STOP_MARKET]
    assert [o for o in run.orders if o.side is OrderSide.BUY]
    signal = run.strategy.signal()
    assert set(signal) == {"close", "bb_lower", "bb_middle", "bb_upper", "rsi", "stop"}
    assert signal["bb_lower"] < signal["bb_middle"] < signal["bb_upper"]
    assert signal["stop"] is None


@pytest.mark.parametrize(
    "params",
    [{"oversold": "80"}, {"stop_pct": "1"}, {"period": "1"}, {"k": "-1"}, {"rsi": "x"}],
)
def test_bad_parameters_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        watch("mean_reversion", params)
    assert MeanReversion.name == "mean_reversion"
