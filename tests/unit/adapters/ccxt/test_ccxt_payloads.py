"""Raw-record copying, dedup keys and the closed-bar tracker; fuzzed with garbage payloads."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import ccxt
from ccxt.async_support.base.ws.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.adapters.ccxt import open_exchange
from grekko.adapters.ccxt.payloads import (
    BarTracker,
    SeenSet,
    bar_record,
    bar_ts,
    book_levels,
    book_record,
    quote_record,
    trade_key,
    trade_record,
)
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade
from recorded_exchange import FIXTURES, load_fixture

H = 3_600_000


def row(ts: int, close: float) -> list[object]:
    return [ts, 1.0, 2.0, 0.5, close, 10.0]


def test_open_candle_is_held_back_and_emitted_once_with_its_final_values() -> None:
    tracker = BarTracker(H)
    assert tracker.update([row(0, 1.0), row(H, 1.1)], now_ms=H + 5) == [row(0, 1.0)]
    assert tracker.update([row(H, 1.2)], now_ms=H + 6) == []  # still open: updated, not emitted
    assert tracker.update([row(H, 1.3)], now_ms=2 * H) == [row(H, 1.3)]  # closed by the clock
    assert tracker.update([row(0, 9.0), row(H, 9.0)], now_ms=3 * H) == []  # already emitted
    assert tracker.closed_upto == H


def test_a_newer_candle_closes_the_previous_one_whatever_the_clock_says() -> None:
    tracker = BarTracker(H)
    assert tracker.update([row(0, 1.0)], now_ms=10) == []
    assert tracker.update([row(H, 2.0)], now_ms=10) == [row(0, 1.0)]


def test_include_open_emits_the_open_candle_on_each_change_only() -> None:
    tracker = BarTracker(H, include_open=True)
    assert tracker.update([row(0, 1.0)], now_ms=10) == [row(0, 1.0)]
    assert tracker.update([row(0, 1.0)], now_ms=20) == []
    assert tracker.update([row(0, 1.5)], now_ms=30) == [row(0, 1.5)]
    assert tracker.update([row(0, 1.6), row(H, 3.0)], now_ms=H + 1) == [row(0, 1.6), row(H, 3.0)]


def test_rows_without_an_integer_open_time_are_counted_not_emitted() -> None:
    tracker = BarTracker(H)
    out = tracker.update([[None, 1, 2, 3, 4, 5], "x", [], [1.5, 1], row(0, 1.0)], now_ms=H)
    assert out == [row(0, 1.0)]
    assert tracker.rejected == 4
    assert tracker.update("not rows", now_ms=H) == []
    assert tracker.rejected == 5


def test_seen_set_forgets_the_oldest_keys_beyond_capacity() -> None:
    seen = SeenSet(capacity=2)
    assert [seen.add(k) for k in ("a", "b", "a", "c", "a")] == [True, True, False, True, True]


def test_trades_are_keyed_by_id_else_by_their_fields() -> None:
    assert trade_key({"id": "7", "timestamp": 1}) == trade_key({"id": 7, "price": 2})
    assert trade_key({"id": None, "timestamp": 1, "price": 2.0, "amount": 3.0, "side": "buy"}) == (
        "fields",
        1,
        2.0,
        3.0,
        "buy",
    )
    assert trade_key({"id": "", "timestamp": None}) is None
    assert trade_key({"timestamp": 1, "price": [1]}) is None  # unhashable
    assert trade_key("7") is None


def test_records_copy_ccxt_fields_without_judging_them() -> None:
    trade = {
        "id": "1",
        "symbol": "BTC/USD",
        "price": -1,
        "amount": "x",
        "side": "up",
        "timestamp": 5,
    }
    assert trade_record("coinbase", "ETH/USD", trade) == RawTrade(
        "coinbase", "BTC/USD", -1, "x", "up", 5, "1"
    )
    bar = bar_record("kraken", "BTC/USD", [60_000, math.nan, 2, 1, 1.5], 60)
    assert isinstance(bar, RawBar)
    assert math.isnan(bar.open)  # type: ignore[arg-type]
    assert (bar.ts, bar.high, bar.low, bar.close, bar.volume, bar.interval_s) == (
        60_000,
        2,
        1,
        1.5,
        None,
        60,
    )
    quote = quote_record("coinbase", "BTC/USD", {"bid": 1, "ask": 2, "timestamp": None}, 99)
    assert quote == RawQuote("coinbase", "BTC/USD", 1, 2, None, None, 99)


def test_book_levels_are_copied_out_of_the_live_ccxt_book() -> None:
    bids = [[2.0, 1.0, "extra"], [1.0, 3.0]]
    record = book_record("coinbase", "BTC/USD", {"bids": bids, "asks": [], "nonce": 4}, 7, 1)
    bids[0][1] = 0.0
    assert record == RawBook("coinbase", "BTC/USD", [(2.0, 1.0)], [], 7, 4)
    assert book_levels("garbage", None) == "garbage"
    assert book_levels([["1"], 5], None) == [["1"], 5]


# ---- fuzzing -------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["NaN", "-1", "1e999", "", "BTC/USD", "buy"]),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "timestamp",
                    "price",
                    "amount",
                    "side",
                    "symbol",
                    "bid",
                    "ask",
                    "bidVolume",
                    "askVolume",
                    "bids",
                    "asks",
                    "nonce",
                    "x",
                ]
            ),
            inner,
            max_size=8,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(payload=anything, now=st.integers(-(2**64), 2**64))
def test_no_garbage_payload_crashes_the_record_builders(payload: Any, now: int) -> None:
    assert isinstance(trade_record("v", "S", payload), RawTrade | None)
    key = trade_key(payload)
    assert key is None or isinstance(hash(key), int)
    assert isinstance(quote_record("v", "S", payload, now), RawQuote | None)
    assert isinstance(book_record("v", "S", payload, now, depth=2), RawBook | None)
    assert isinstance(bar_record("v", "S", payload, 60), RawBar | None)


ohlcv_rows = st.one_of(
    st.lists(scalars, max_size=7),
    st.tuples(st.integers(-(2**70), 2**70), scalars, scalars, scalars, scalars, scalars),
    st.tuples(st.integers(0, 20).map(lambda n: n * 60_000), scalars, scalars),
    scalars,
)


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(st.lists(ohlcv_rows, max_size=6), max_size=4), now=st.integers(0, 2**64))
def test_tracker_emits_closed_bars_once_in_time_order_and_counts_every_rejection(
    batches: list[list[Any]], now: int
) -> None:
    tracker = BarTracker(60_000)
    emitted = [bar_ts(r) for batch in batches for r in tracker.update(batch, now)]
    assert all(isinstance(ts, int) for ts in emitted)
    assert emitted == sorted(set(emitted))  # type: ignore[type-var]
    assert tracker.rejected == sum(bar_ts(r) is None for batch in batches for r in batch)


coinbase = open_exchange("coinbase")
coinbase.set_markets(
    [coinbase.parse_spot_market(p, {}) for p in load_fixture("http_products.json")["products"]]
)
real_bodies = [p.read_text() for p in sorted(FIXTURES.glob("*.json"))]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.sampled_from(real_bodies),
    cut=st.integers(min_value=0, max_value=5000),
    junk=st.text(max_size=5),
)
def test_truncated_real_payloads_are_bad_responses_never_other_errors(
    body: str, cut: int, junk: str
) -> None:
    text = body[: cut % max(len(body), 1)] + junk
    outcome = parse_or_reason(text)
    if isinstance(outcome, str):
        assert "malformed JSON" in outcome
    else:
        assert json.dumps(outcome[0]) == json.dumps(json.loads(text))


def parse_or_reason(text: str) -> tuple[Any] | str:
    """The parsed body in a 1-tuple, or the BadResponse message: no other outcome is allowed."""
    try:
        return (coinbase.on_json_response(text),)
    except ccxt.BadResponse as exc:
        return str(exc)


def candles_message(candles: Any, events: Any = None) -> dict[str, Any]:
    base = json.loads((FIXTURES / "ws_candles.json").read_text())
    base["events"] = events if events is not None else [{"type": "update", "candles": candles}]
    return base


@settings(max_examples=100, deadline=None)
@given(
    candles=st.lists(
        st.dictionaries(
            st.sampled_from(["start", "open", "high", "low", "close", "volume", "product_id"]),
            st.one_of(scalars, st.sampled_from(["BTC-USD", "BTC-USDC", "1775521800"])),
        )
        | anything,
        max_size=4,
    ),
    events=st.none() | anything,
)
def test_garbage_candle_messages_never_crash_the_coinbase_handler(
    candles: Any, events: Any
) -> None:
    async def run() -> Any:
        client = Client("ws://unused", None, None, None, None, {})
        watcher = client.future("candles::BTC/USD")
        coinbase.handle_message(client, candles_message(candles, events))
        return watcher.result() if watcher.done() else []

    stored = asyncio.run(run())
    assert all(isinstance(row[0], int) for row in stored)  # a candle without open time is dropped
