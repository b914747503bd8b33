"""Enricher: talipp's indicators on real bars against an independent pandas computation.

The reference follows the definitions talipp documents in its source: EMA seeded with the SMA of
the first `period` closes, then alpha = 2/(period+1); Bollinger bands with the population
standard deviation (ddof=0); RSI and ATR with Wilder's smoothing (alpha = 1/period), RSI seeded
with the mean gain/loss of the first `period` changes, ATR with the mean of the first `period`
true ranges where the very first one is high - low.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from grekko.adapters.files.bars import bundled_files, load_bars
from grekko.adapters.files.trades import load_trades
from grekko.domain.data import Bar, TradeTick
from grekko.domain.enums import OrderSide
from grekko.domain.indicators import IndicatorSettings, IndicatorSnapshot
from grekko.engines.ingest.enricher import DAY_NS, Enricher
from shared_data import shared_file

IID = "BTC/USDT@binance"
FIELDS = (
    "sma",
    "ema",
    "rsi",
    "macd",
    "macd_signal",
    "macd_histogram",
    "bb_lower",
    "bb_middle",
    "bb_upper",
    "atr",
    "vwap",
)


def seeded_ewm(values: pd.Series, period: int, alpha: float) -> pd.Series:
    """Recursive EMA whose first value is the SMA of the first `period` non-missing values."""
    start = int(values.first_valid_index())  # type: ignore[arg-type]
    seed_at = start + period - 1
    seeded = pd.Series(np.nan, index=values.index)
    seeded.iloc[seed_at] = values.iloc[start : seed_at + 1].mean()
    seeded.iloc[seed_at + 1 :] = values.iloc[seed_at + 1 :]
    return seeded.ewm(alpha=alpha, adjust=False).mean()


def reference(frame: pd.DataFrame, s: IndicatorSettings) -> pd.DataFrame:
    close, high, low = frame["close"], frame["high"], frame["low"]
    out = pd.DataFrame(index=frame.index)
    out["sma"] = close.rolling(s.sma).mean()
    out["ema"] = seeded_ewm(close, s.ema, 2 / (s.ema + 1))
    change = close.diff()
    gain = seeded_ewm(change.clip(lower=0), s.rsi, 1 / s.rsi)
    loss = seeded_ewm(-change.clip(upper=0), s.rsi, 1 / s.rsi)
    out["rsi"] = np.where(loss == 0, 100.0, 100 - 100 / (1 + gain / loss))
    out.loc[loss.isna(), "rsi"] = np.nan
    fast = seeded_ewm(close, s.macd_fast, 2 / (s.macd_fast + 1))
    slow = seeded_ewm(close, s.macd_slow, 2 / (s.macd_slow + 1))
    out["macd"] = fast - slow
    out["macd_signal"] = seeded_ewm(out["macd"], s.macd_signal, 2 / (s.macd_signal + 1))
    out["macd_histogram"] = out["macd"] - out["macd_signal"]
    middle = close.rolling(s.bollinger).mean()
    width = s.bollinger_k * close.rolling(s.bollinger).std(ddof=0)
    out["bb_lower"], out["bb_middle"], out["bb_upper"] = middle - width, middle, middle + width
    previous = close.shift(1)
    true_range = pd.concat(
        [high - low, (high - previous).abs(), (low - previous).abs()], axis=1
    ).max(axis=1)
    out["atr"] = seeded_ewm(true_range, s.atr, 1 / s.atr)
    day = frame["ts_open"] // DAY_NS
    typical = (high + low + close) / 3
    out["vwap"] = (typical * frame["volume"]).groupby(day).cumsum() / frame["volume"].groupby(
        day
    ).cumsum()
    return out


def real_frame(limit: int | None = None) -> pd.DataFrame:
    bars = load_bars(bundled_files()[0])
    frame = pd.DataFrame(
        {
            "ts_open": bars.ts_open_ns,
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
    )
    return frame if limit is None else frame.iloc[:limit].copy()


def run(
    frame: pd.DataFrame, settings: IndicatorSettings | None = None, keep: int = 500
) -> tuple[Enricher, list[IndicatorSnapshot]]:
    emitted: list[IndicatorSnapshot] = []
    enricher = Enricher(emitted.append, settings, keep=keep)
    returned = [
        enricher.on_bar(Bar(IID, o, h, low, c, v, ts, ts + 60 * 10**9))
        for ts, o, h, low, c, v in frame.itertuples(index=False)
    ]
    assert returned == emitted
    return enricher, emitted


def assert_matches(snapshots: list[IndicatorSnapshot], expected: pd.DataFrame) -> None:
    for field in FIELDS:
        got = np.array([np.nan if (v := getattr(s, field)) is None else v for s in snapshots])
        want = expected[field].to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=field)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=field)


def test_indicators_on_real_bars_match_pandas() -> None:
    """All 9,646 bundled BTC bars: the default purge (keep=500) runs many times on the way."""
    frame = real_frame()
    settings = IndicatorSettings()
    _, snapshots = run(frame, settings)
    assert len(snapshots) == 9646
    assert_matches(snapshots, reference(frame, settings))
    last = snapshots[-1]
    assert last.instrument_id == IID
    assert last.close == frame["close"].iloc[-1]
    assert last.bb_lower is not None
    assert last.bb_upper is not None
    assert last.bb_lower < last.bb_middle < last.bb_upper  # type: ignore[operator]
    assert 0 <= last.rsi <= 100  # type: ignore[operator]


def test_nothing_before_warm_up() -> None:
    _, snapshots = run(real_frame(40))
    first_value = {
        field: next(i for i, s in enumerate(snapshots) if getattr(s, field) is not None)
        for field in (*FIELDS, "trade_vwap")
        if field != "trade_vwap"
    }
    assert first_value == {
        "sma": 19,
        "ema": 19,
        "rsi": 14,  # needs 15 closes: 14 changes
        "macd": 25,
        "macd_signal": 33,  # 9 MACD values
        "macd_histogram": 33,
        "bb_lower": 19,
        "bb_middle": 19,
        "bb_upper": 19,
        "atr": 13,
        "vwap": 0,
    }
    assert all(s.trade_vwap is None for s in snapshots)  # no trades seen


def test_long_periods_survive_the_purge() -> None:
    """A period longer than `keep` must not be purged below its own length (it then stayed None)."""
    frame = real_frame(3000)
    settings = IndicatorSettings(sma=600, ema=600, bollinger=600)
    _, snapshots = run(frame, settings, keep=100)
    assert_matches(snapshots, reference(frame, settings))
    assert snapshots[-1].sma is not None


def lengths(node: Any, seen: set[int] | None = None) -> list[tuple[str, int]]:
    """Every list talipp keeps inside an indicator (inputs, outputs, sub-indicators' lists)."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return []
    seen.add(id(node))
    found = []
    for name, value in vars(node).items():
        if isinstance(value, list):
            if value and hasattr(value[0], "purge_oldest"):
                for child in value:
                    found += lengths(child, seen)
            else:
                found.append((f"{type(node).__name__}.{name}", len(value)))
        elif hasattr(value, "purge_oldest"):
            found += lengths(value, seen)
    return found


def test_purge_keeps_memory_bounded() -> None:
    keep = 200
    enricher, _ = run(real_frame(), keep=keep)
    state = enricher._by_instrument[IID]
    sizes = []
    for name in ("sma", "ema", "rsi", "macd", "bb", "atr"):
        sizes += lengths(getattr(state, name))
    assert sizes
    assert max(size for _, size in sizes) <= 2 * keep + 1, sizes
    assert len(state.vwap) <= 1440  # restarted at every UTC day: one day of minutes at most


def trade(price: float, size: float, ts: int) -> TradeTick:
    return TradeTick(IID, price, size, OrderSide.BUY, "", ts)


def test_trade_vwap_resets_at_utc_midnight() -> None:
    enricher = Enricher(lambda _: None)
    midnight = 18_736 * DAY_NS  # 2021-04-19T00:00:00Z
    enricher.on_trade(trade(100.0, 1.0, midnight - 2 * 10**9))
    enricher.on_trade(trade(200.0, 3.0, midnight - 10**9))
    before = enricher.on_bar(Bar(IID, 1, 1, 1, 1, 1, midnight - 60 * 10**9, midnight))
    assert before.trade_vwap == pytest.approx(175.0)
    enricher.on_trade(trade(300.0, 2.0, midnight))
    enricher.on_trade(trade(400.0, 2.0, midnight + 10**9))
    after = enricher.on_bar(Bar(IID, 1, 1, 1, 1, 1, midnight, midnight + 60 * 10**9))
    assert after.trade_vwap == pytest.approx(350.0)


@pytest.mark.shared
def test_trade_vwap_on_real_trades_across_midnight() -> None:
    """XRP/ETH trades from 2019-10-11 00:00 to 10-12 12:00: the VWAP restarts on the 12th."""
    rows = load_trades(shared_file("ticks_orderbook", "binance_XRPETH_trades_2019-10-11.csv.gz"))
    frame = pd.DataFrame({"ts": rows.ts, "price": rows.price, "amount": rows.amount})
    frame["ts"] = frame["ts"].astype("int64") * 10**6
    day = frame["ts"] // DAY_NS
    expected = (frame["price"] * frame["amount"]).groupby(day).sum() / frame["amount"].groupby(
        day
    ).sum()
    assert len(expected) == 2
    enricher = Enricher(lambda _: None)
    got = {}
    iid = "XRP/ETH@binance"
    for (this_day, group), next_ts in zip(
        frame.groupby(day), [*frame.groupby(day)["ts"].first().iloc[1:], None], strict=True
    ):
        for ts, price, amount in group.itertuples(index=False):
            enricher.on_trade(TradeTick(iid, price, amount, OrderSide.BUY, "", ts))
        last = int(group["ts"].iloc[-1])
        snapshot = enricher.on_bar(Bar(iid, 1, 1, 1, 1, 1, last - last % 60_000_000_000, last))
        got[this_day] = snapshot.trade_vwap
        assert next_ts is None or next_ts // DAY_NS != this_day
    for this_day, value in expected.items():
        assert got[this_day] == pytest.approx(value, rel=1e-12)


def test_instruments_are_independent() -> None:
    frame = real_frame(60)
    enricher = Enricher(lambda _: None)
    for ts, o, h, low, c, v in frame.itertuples(index=False):
        enricher.on_bar(Bar(IID, o, h, low, c, v, ts, ts + 60 * 10**9))
    other = enricher.on_bar(Bar("ETH/USDT@binance", 1, 2, 0.5, 1.5, 3, 0, 60 * 10**9))
    assert other.sma is None
    assert enricher.latest[IID].sma is not None
    assert enricher.latest["ETH/USDT@binance"] is other
