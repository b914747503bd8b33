"""Fuzz: garbage at the Binance/Bybit parsers and at BookManager.

A parser either returns a valid message or raises DataError; BookManager never raises on input,
accounts for every message in exactly one outcome counter, and its books are never crossed and
never hold a size <= 0.
"""

from __future__ import annotations

import copy
import gzip
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.adapters.feeds import BinanceDepthParser, BybitOrderbookParser
from grekko.core.errors import DataError
from grekko.domain.order_book import BookSide, BookSnapshot, DepthDiff, DepthSnapshot, OrderBook
from grekko.engines.books import BookManager
from grekko.engines.bus import MessageBus

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "books"
BTC, XRP = "BTC/USDT:USDT@binance", "XRP/USDT:USDT@bybit"
BINANCE = BinanceDepthParser({"BTCUSDT": BTC})
BINANCE_SPOT = BinanceDepthParser({"BTCUSDT": BTC}, market="spot")
BYBIT = BybitOrderbookParser({"XRPUSDT": XRP})
OUTCOMES = ("snapshots", "applied", "stale", "rejected", "crossed", "overflowed", "pending")

with gzip.open(FIXTURES / "bybit_xrpusdt-ob500-first10.data.gz", "rt") as _fh:
    BYBIT_DELTA: dict[str, Any] = json.loads(_fh.readlines()[1])
BINANCE_EVENT: dict[str, Any] = {
    "e": "depthUpdate",
    "E": 1667347199939,
    "T": 1667347199936,
    "s": "BTCUSDT",
    "U": 2098041693435,
    "u": 2098041696700,
    "pu": 2098041693400,
    "b": [["20472.10", "22.276"], ["20472.20", "0.000"]],
    "a": [["20472.20", "4.211"], ["20473.30", "0.001"]],
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["NaN", "-1", "0", "1e400", "1.5", ""]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


def assert_valid(message: DepthSnapshot | DepthDiff) -> None:
    for price, size in message.bids + message.asks:
        assert math.isfinite(price)
        assert price > 0
        assert math.isfinite(size)
        assert size >= 0


def mutate(base: dict[str, Any], edits: list[tuple[list[str], Any]]) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(json.dumps(base))
    for path, value in edits:
        target = msg
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                break
            target = target[key]
        else:
            if value is None and path[-1] in target:
                del target[path[-1]]
            else:
                target[path[-1]] = copy.deepcopy(value)
    return msg


binance_paths = st.lists(st.sampled_from(list(BINANCE_EVENT)).map(lambda k: [k]), max_size=3)
bybit_paths = st.lists(
    st.sampled_from(
        [
            ["topic"],
            ["type"],
            ["ts"],
            ["data"],
            ["data", "s"],
            ["data", "u"],
            ["data", "b"],
            ["data", "a"],
        ]
    ),
    max_size=3,
)


def parse_or_refuse(parse: Any, payload: str | bytes) -> None:
    try:
        message = parse(payload)
    except DataError:
        return
    assert_valid(message)


@settings(max_examples=400, deadline=None)
@given(payload=st.one_of(st.binary(max_size=64), st.text(max_size=64)))
def test_parsers_survive_arbitrary_bytes(payload: str | bytes) -> None:
    parse_or_refuse(BINANCE.parse_ws, payload)
    parse_or_refuse(BYBIT.parse, payload)
    parse_or_refuse(lambda p: BINANCE.parse_rest_snapshot(p, "BTCUSDT"), payload)


@settings(max_examples=400, deadline=None)
@given(
    edits=st.lists(st.tuples(binance_paths, json_values), max_size=3),
    spot=st.booleans(),
)
def test_binance_parser_survives_mutated_events(
    edits: list[tuple[list[list[str]], Any]], spot: bool
) -> None:
    flat = [(path, value) for paths, value in edits for path in paths]
    payload = json.dumps(mutate(BINANCE_EVENT, flat))
    parse_or_refuse((BINANCE_SPOT if spot else BINANCE).parse_ws, payload)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(bybit_paths, json_values), max_size=3))
def test_bybit_parser_survives_mutated_messages(edits: list[tuple[list[list[str]], Any]]) -> None:
    flat = [(path, value) for paths, value in edits for path in paths]
    parse_or_refuse(BYBIT.parse, json.dumps(mutate(BYBIT_DELTA, flat)))


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.text(max_size=40), max_size=6))
def test_binance_csv_reader_survives_garbage_rows(lines: list[str]) -> None:
    header = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
    try:
        messages = list(BINANCE.iter_csv([header, *[line + "\n" for line in lines]]))
    except DataError:
        return
    for message in messages:
        assert_valid(message)


# ---- BookManager -----------------------------------------------------------------------------
good_level = st.tuples(
    st.integers(min_value=1, max_value=30).map(float),
    st.one_of(st.just(0.0), st.integers(min_value=1, max_value=50).map(float)),
)
bad_level = st.tuples(
    st.sampled_from([0.0, -1.0, math.nan, math.inf, 5.0]),
    st.sampled_from([-1.0, math.nan, math.inf]),
)
good_levels = st.lists(good_level, max_size=3).map(tuple)
levels = st.builds(
    lambda good, bad, corrupt: (*good, bad) if corrupt == 9 else good,
    good_levels,
    bad_level,
    st.integers(min_value=0, max_value=9),
)
low_bids = st.lists(good_level.map(lambda lv: (lv[0] / 2, lv[1])), max_size=3).map(tuple)
high_asks = st.lists(good_level.map(lambda lv: (lv[0] / 2 + 15, lv[1])), max_size=3).map(tuple)


@st.composite
def scripts(draw: st.DrawFn) -> list[DepthSnapshot | DepthDiff | bytes | str]:
    """Mostly well-chained diffs around a running update id, with gaps, repeats and garbage."""
    out: list[DepthSnapshot | DepthDiff | bytes | str] = []
    last = {BTC: 100, XRP: 100}
    for _ in range(draw(st.integers(min_value=0, max_value=40))):
        kind = draw(st.sampled_from(["diff"] * 6 + ["snapshot", "raw"]))
        iid = draw(st.sampled_from([BTC, XRP]))
        if kind == "raw":
            out.append(draw(st.one_of(st.binary(max_size=20), st.just(json.dumps(BYBIT_DELTA)))))
        elif kind == "snapshot":
            seq = last[iid] + draw(st.integers(min_value=-3, max_value=3))
            out.append(DepthSnapshot(iid, draw(low_bids), draw(high_asks), seq, 0))
        else:
            first = last[iid] + 1 + draw(st.sampled_from([0, 0, 0, 0, -2, 1, 3]))
            end = first + draw(st.sampled_from([0, 0, 1, 2, 3, -1]))
            prev = draw(st.sampled_from([last[iid], last[iid], last[iid], last[iid] - 1, None]))
            out.append(DepthDiff(iid, draw(levels), draw(levels), first, end, prev, end))
            last[iid] = max(last[iid], end)
    return out


def check_book(book: OrderBook) -> None:
    assert not book.is_crossed()
    bids, asks = book.levels(BookSide.BID), book.levels(BookSide.ASK)
    assert all(size > 0 and math.isfinite(size) for _, size in bids + asks)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=scripts(), market=st.sampled_from(["futures", "spot", "bybit"]), answer=st.booleans())
def test_book_manager_survives_any_message_sequence(
    script: list[DepthSnapshot | DepthDiff | bytes | str], market: str, answer: bool
) -> None:
    parser: Any = BYBIT if market == "bybit" else BinanceDepthParser({"BTCUSDT": BTC}, market)  # type: ignore[arg-type]
    holder: list[BookManager] = []
    requests: list[str] = []

    def request(instrument_id: str) -> None:
        requests.append(instrument_id)
        if answer:  # a venue that answers at once with the same stale snapshot
            holder[0].on_message(DepthSnapshot(instrument_id, ((1.0, 1.0),), ((2.0, 1.0),), 0, 0))

    decode = parser.parse if market == "bybit" else parser.parse_ws
    bus = MessageBus()
    published: list[BookSnapshot] = []
    bus.subscribe("data.books.*", published.append)
    manager = BookManager(bus, parser.sequencer, request, depth=3, max_pending=5, decoder=decode)
    holder.append(manager)
    for step in script:
        if isinstance(step, bytes | str):
            manager.on_raw(step)
        else:
            manager.on_message(step)
        for iid in manager.instruments():
            book = manager.book(iid)
            assert book is not None
            check_book(book)
    stats = manager.stats()
    answered = len(requests) if answer else 0
    assert stats["received"] == len(script) + answered
    assert stats["received"] == sum(stats[k] for k in OUTCOMES)
    assert stats["resync_requests"] == len(requests)
    assert bus.handler_errors == 0
    for snap in published:
        assert not snap.bids or not snap.asks or snap.bids[0][0] < snap.asks[0][0]
