"""trend_following through the real kernel on the bundled BTCUSDT 1m slice.

The signals are checked against talipp's EMA and ATR (seeded with the simple mean, Wilder
smoothing), an implementation independent of the strategy's incremental one.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pandas as pd
import pytest
from strategy_run_support import Watched, btc_frame, watch
from talipp.indicators import ATR, EMA
from talipp.ohlcv import OHLCV

from grekko.agents.strategies.trend_following import Ema, TrendFollowing, WilderAtr
from grekko.core.errors import ConfigError
from grekko.domain.enums import OrderSide, OrderStatus, OrderType
from grekko.domain.events import OrderFilled
from grekko.domain.orders import Order

FAST, SLOW, ATR_N, MULT = 12, 26, 14, Decimal(3)
STOPS = (OrderType.STOP_MARKET,)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return btc_frame()


@pytest.fixture(scope="module")
def ref(frame: pd.DataFrame) -> dict[str, list[float | None]]:
    closes = frame["close"].tolist()
    bars = [
        OHLCV(o, h, lo, c, v)
        for o, h, lo, c, v in frame[["open", "high", "low", "close", "volume"]].itertuples(
            index=False
        )
    ]
    return {
        "fast": list(EMA(FAST, closes)),
        "slow": list(EMA(SLOW, closes)),
        "atr": list(ATR(ATR_N, bars)),
    }


@pytest.fixture(scope="module")
def tf() -> Watched:
    return watch("trend_following", {})


def crosses(ref: dict[str, list[float | None]], frame: pd.DataFrame, up: bool) -> set[int]:
    out = set()
    fast, slow = ref["fast"], ref["slow"]
    for i in range(1, len(frame)):
        pf, ps, f, s = fast[i - 1], slow[i - 1], fast[i], slow[i]
        if None in (pf, ps, f, s):
            continue
        assert pf is not None
        assert ps is not None
        assert f is not None
        assert s is not None
        if (up and pf <= ps and f > s) or (not up and pf >= ps and f < s):
            out.add(int(frame["ts"].iloc[i]))
    return out


def test_incremental_ema_and_atr_equal_talipp(
    frame: pd.DataFrame, ref: dict[str, list[float | None]]
) -> None:
    fast, slow, atr = Ema(FAST), Ema(SLOW), WilderAtr(ATR_N)
    for i, (h, lo, c) in enumerate(frame[["high", "low", "close"]].itertuples(index=False)):
        for mine, theirs in ((fast.update(c), ref["fast"][i]), (slow.update(c), ref["slow"][i])):
            assert mine == (None if theirs is None else pytest.approx(theirs, rel=1e-12))
        assert atr.update(h, lo, c) == (
            None if ref["atr"][i] is None else pytest.approx(ref["atr"][i], rel=1e-12)
        )
    assert fast.value is not None
    assert atr.value is not None


def test_entries_are_exactly_the_golden_crosses_met_while_flat(
    tf: Watched, frame: pd.DataFrame, ref: dict[str, list[float | None]]
) -> None:
    golden = crosses(ref, frame, up=True)
    buys = [o for o in tf.orders if o.side is OrderSide.BUY]
    assert all(o.order_type is OrderType.MARKET for o in buys)
    assert len(buys) > 50
    assert {o.events[0].ts_event for o in buys} == {ts for ts in golden if tf.at(ts).position == 0}
    assert all(o.status is OrderStatus.FILLED and o.filled_qty == 1 for o in buys[:-1])


def test_each_entry_fill_is_protected_by_a_reduce_only_stop_atr_below(
    tf: Watched, frame: pd.DataFrame, ref: dict[str, list[float | None]]
) -> None:
    ordered = tf.by_seq()
    instrument = tf.strategy.ctx.instrument(tf.strategy.instrument_id)
    checked = 0
    for n, buy in enumerate(ordered):
        if buy.side is not OrderSide.BUY or buy.status is not OrderStatus.FILLED:
            continue
        stop = ordered[n + 1]
        fill = next(e for e in buy.events if type(e) is OrderFilled)
        signal = tf.index_of[buy.events[0].ts_event]
        atr = ref["atr"][signal]
        assert atr is not None
        close = Decimal(repr(float(frame["close"].iloc[signal])))
        assert stop.order_type is OrderType.STOP_MARKET
        assert stop.side is OrderSide.SELL
        assert stop.reduce_only
        assert stop.quantity == buy.filled_qty
        # filled at the next bar's open, and the stop sent while the venue processed that bar
        assert fill.ts_event == int(frame["open_time_ms"].iloc[signal + 1]) * 1_000_000
        assert stop.events[0].ts_event == int(frame["ts"].iloc[signal + 1])
        assert stop.trigger_price == instrument.make_price(close - MULT * Decimal(repr(atr)))
        assert "stop" in tf.rationales[stop.client_order_id].lower()
        checked += 1
    assert checked > 50


def test_the_stop_only_trails_up_on_new_closing_highs(
    tf: Watched, frame: pd.DataFrame, ref: dict[str, list[float | None]]
) -> None:
    instrument = tf.strategy.ctx.instrument(tf.strategy.instrument_id)
    closes = frame["close"].tolist()
    episodes: list[list[tuple[int, Order]]] = []
    entry_index = 0
    for order in tf.by_seq():
        if order.side is OrderSide.BUY:
            episodes.append([])
            entry_index = tf.index_of[order.events[0].ts_event]
        elif order.order_type in STOPS:
            episodes[-1].append((entry_index, order))
    longest = max(len(e) for e in episodes)
    assert longest >= 4  # the stop really trails
    moves = 0
    for episode in episodes:
        for (entry, before), (_, after) in itertools.pairwise(episode):
            i = tf.index_of[after.events[0].ts_event]
            assert closes[i] > max(closes[entry:i])  # a new closing high since the signal
            atr = ref["atr"][i]
            assert atr is not None
            expected = instrument.make_price(Decimal(repr(closes[i])) - MULT * Decimal(repr(atr)))
            assert after.trigger_price == expected
            assert before.trigger_price is not None
            assert expected > before.trigger_price
            assert before.status is OrderStatus.CANCELED
            assert before.events[-1].ts_event == after.events[0].ts_event  # replaced at once
            assert "trailing the stop up" in tf.rationales[after.client_order_id]
            moves += 1
    assert moves > 50


def test_a_long_position_always_has_exactly_one_stop_for_all_of_it(tf: Watched) -> None:
    long_bars = 0
    for snap in tf.snapshots:
        stops = [o for o in snap.open_orders if o.order_type in STOPS]
        exiting = any(o.order_type is OrderType.MARKET for o in snap.open_orders)
        assert len(stops) <= 1
        if snap.position > 0 and not exiting:
            long_bars += 1
            assert len(stops) == 1
            assert stops[0].quantity == snap.position
            assert snap.signal["stop"] == str(stops[0].trigger_price)
        if snap.position == 0:
            assert not stops
    assert long_bars > 1000


def test_exits_happen_on_death_crosses_or_by_the_stop(
    tf: Watched, frame: pd.DataFrame, ref: dict[str, list[float | None]]
) -> None:
    death = crosses(ref, frame, up=False)
    sells = [o for o in tf.orders if o.side is OrderSide.SELL and o.order_type is OrderType.MARKET]
    assert len(sells) > 20
    for sell in sells:
        ts = sell.events[0].ts_event
        assert ts in death
        assert sell.reduce_only
        assert sell.quantity == tf.at(ts).position
        assert "crossed below" in tf.rationales[sell.client_order_id]
    stopped = [o for o in tf.orders if o.order_type in STOPS and o.status is OrderStatus.FILLED]
    assert len(stopped) > 5
    for stop in stopped:
        fill = next(e for e in stop.events if type(e) is OrderFilled)
        assert stop.trigger_price is not None
        assert fill.last_px <= stop.trigger_price  # at the trigger, or the open it gapped to
    assert len(sells) + len(stopped) >= len([o for o in tf.orders if o.side is OrderSide.BUY]) - 1
    assert set(tf.positions_after_fill) <= {Decimal(0), Decimal(1)}


def test_rationale_and_signal_explain_the_decisions(tf: Watched) -> None:
    first_buy = next(o for o in tf.by_seq() if o.side is OrderSide.BUY)
    text = tf.rationales[first_buy.client_order_id]
    assert text.startswith(f"EMA({FAST}) ")
    assert f"crossed above EMA({SLOW})" in text
    assert "3x ATR" in text
    signal = tf.strategy.signal()
    assert set(signal) == {"close", "ema_fast", "ema_slow", "atr", "trend", "stop"}
    assert signal["trend"] in {"up", "down"}


@pytest.mark.parametrize(
    "params",
    [{"fast": "26", "slow": "12"}, {"atr_mult": "0"}, {"atr": "0"}, {"speed": "1"}],
)
def test_bad_parameters_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        watch("trend_following", params)
    assert TrendFollowing.name == "trend_following"
