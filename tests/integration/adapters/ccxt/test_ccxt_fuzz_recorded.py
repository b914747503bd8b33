"""Garbage answers from the venue, end to end: ccxt parses them, the poller must survive them all.

Each example queues a few malformed answers (NaN, negative, string and huge numbers, missing
fields, truncated real payloads, random text, error statuses) ahead of the real recording. The
feed must keep going, count the failures, and still deliver every recorded trade exactly once.
"""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.adapters.ccxt import CcxtMarketDataSource
from grekko.domain.raw import RawTrade
from recorded_exchange import FIXTURES, Fault, load_fixture, recorded_coinbase

REAL_IDS = {t["trade_id"] for t in load_fixture("http_ticker.json")["trades"]}
REAL_BODY = (FIXTURES / "http_ticker.json").read_text()

weird_values = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(["NaN", "-0.5", "1e999", "", "abc", "68923.67", "2026-04-07T00:28:58Z", []]),
)
fuzz_trades = st.lists(
    st.dictionaries(
        st.sampled_from(["trade_id", "product_id", "price", "size", "time", "side", "bid", "ask"]),
        weird_values,
        max_size=8,
    ).map(lambda t: {**t, "trade_id": f"fuzz-{t['trade_id']}"} if "trade_id" in t else t),
    max_size=4,
)
bodies = st.one_of(
    fuzz_trades.map(lambda trades: json.dumps({"trades": trades})),
    st.integers(0, len(REAL_BODY) - 1).map(lambda n: REAL_BODY[:n]),
    st.text(max_size=20),
    st.sampled_from(["null", "[]", "{}", '{"trades": "x"}', '{"trades": [1, "2", null]}', "1e999"]),
    st.just('{"trades": [{"trade_id": "fuzz", "price": ' + "9" * 400 + "}]}"),
)
faults = st.lists(
    st.builds(Fault, st.sampled_from([200, 200, 200, 400, 404, 429, 500, 502]), bodies),
    min_size=1,
    max_size=4,
)


async def survive(answers: list[Fault]) -> tuple[list[RawTrade], CcxtMarketDataSource]:
    async with recorded_coinbase() as (server, exchange):
        server.fail_next("/ticker", *answers)
        source = CcxtMarketDataSource(exchange, interval_s=0, backoff_s=0, max_backoff_s=0)
        records: list[RawTrade] = []
        feed = source.poll_trades("BTC/USD")
        async with asyncio.timeout(10):
            while not {r.trade_id for r in records} >= REAL_IDS:
                records.append(await anext(feed))
        await feed.aclose()  # type: ignore[attr-defined]
        return records, source


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(answers=faults)
def test_no_garbage_answer_stops_the_feed_or_loses_a_recorded_trade(answers: list[Fault]) -> None:
    records, source = asyncio.run(survive(answers))
    real = [r for r in records if r.trade_id in REAL_IDS]
    assert sorted(r.trade_id for r in real) == sorted(REAL_IDS)  # each exactly once
    assert all(isinstance(r, RawTrade) and r.venue == "coinbase" for r in records)
    assert source.stats.responses + source.stats.failures >= len(answers)
    assert source.stats.failures <= len(answers)
