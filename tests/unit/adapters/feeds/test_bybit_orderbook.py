"""Bybit orderbook.500 parsing and sequencing on the first real messages of the XRPUSDT sample."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from grekko.adapters.feeds.bybit_orderbook import BybitOrderbookParser
from grekko.core.errors import DataError
from grekko.domain.order_book import BookSide, BookSnapshot, DepthDiff, DepthSnapshot
from grekko.engines.books import BookManager, BookSyncState, book_topic
from grekko.engines.bus import MessageBus

FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "fixtures"
    / "books"
    / "bybit_xrpusdt-ob500-first10.data.gz"
)
IID = "XRP/USDT:USDT@bybit"


def parser() -> BybitOrderbookParser:
    return BybitOrderbookParser({"XRPUSDT": IID})


def raw_lines() -> list[str]:
    with gzip.open(FIXTURE, "rt") as fh:
        return [line for line in fh if line.strip()]


def decimal_replay(lines: list[str]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    """The book by the letter of Bybit's docs, in Decimal, without any Grekko code."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for line in lines:
        msg = json.loads(line)
        if msg["type"] == "snapshot":
            bids.clear()
            asks.clear()
        for key, side in (("b", bids), ("a", asks)):
            for price, size in msg["data"][key]:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(size)
    return bids, asks


def as_levels(side: dict[Decimal, Decimal], *, descending: bool) -> tuple[tuple[float, float], ...]:
    return tuple((float(p), float(q)) for p, q in sorted(side.items(), reverse=descending))


def test_fixture_parses_to_one_snapshot_then_deltas() -> None:
    messages = parser().read_file(FIXTURE)
    assert len(messages) == 10
    first = messages[0]
    assert isinstance(first, DepthSnapshot)
    assert (first.sequence, first.ts) == (20254869, 1733011200691 * 10**6)
    assert (len(first.bids), len(first.asks)) == (500, 500)
    assert first.bids[0] == (1.9531, 6203.0)
    deltas = messages[1:]
    assert all(isinstance(m, DepthDiff) for m in deltas)
    assert [m.last_id for m in deltas] == list(range(20254870, 20254879))
    assert all(m.first_id == m.last_id and m.prev_id is None for m in deltas)  # type: ignore[union-attr]


def test_replay_matches_a_decimal_replay_and_publishes_each_message() -> None:
    lines = raw_lines()
    bus = MessageBus()
    published: list[BookSnapshot] = []
    bus.subscribe(book_topic(IID), published.append)
    p = parser()
    manager = BookManager(bus, p.sequencer, lambda _iid: None, depth=500, decoder=p.parse)
    for line in lines:
        manager.on_raw(line)
    bids, asks = decimal_replay(lines)
    book = manager.book(IID)
    assert book is not None
    assert book.levels(BookSide.BID) == as_levels(bids, descending=True)
    assert book.levels(BookSide.ASK) == as_levels(asks, descending=False)
    assert book.sequence == 20254878
    assert len(published) == 10
    assert published[-1].bids[:3] == as_levels(bids, descending=True)[:3]
    assert manager.stats()["applied"] == 9


def test_a_dropped_delta_is_a_gap_and_a_snapshot_resyncs() -> None:
    lines = raw_lines()
    requests: list[str] = []
    manager = BookManager(MessageBus(), parser().sequencer, requests.append)
    messages = [parser().parse(line) for line in lines]
    for message in messages[:4] + messages[5:]:  # u=20254873 lost
        manager.on_message(message)
    assert manager.state(IID) is BookSyncState.RESYNC_NEEDED
    assert requests == [IID]
    stats = manager.stats()
    assert (stats["gaps"], stats["applied"], stats["pending"]) == (1, 3, 5)
    # a resubscribe answers with a snapshot of the book as of u=20254875
    bids, asks = decimal_replay(lines[:7])
    manager.on_message(
        DepthSnapshot(
            IID,
            as_levels(bids, descending=True),
            as_levels(asks, descending=False),
            20254875,
            0,
        )
    )
    assert manager.state(IID) is BookSyncState.LIVE
    full_bids, _ = decimal_replay(lines)
    assert manager.book(IID).levels(BookSide.BID) == as_levels(full_bids, descending=True)  # type: ignore[union-attr]
    stats = manager.stats()
    assert (stats["stale"], stats["resyncs"], stats["pending"]) == (2, 1, 0)


def test_a_delta_with_u_1_is_a_restart_snapshot() -> None:
    msg = json.loads(raw_lines()[1])
    msg["data"]["u"] = 1
    parsed = parser().parse(json.dumps(msg))
    assert isinstance(parsed, DepthSnapshot)
    assert parsed.sequence == 1


def mutated(path: tuple[str, ...], value: Any) -> str:
    msg = json.loads(raw_lines()[1])
    target = msg
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(msg)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "malformed|JSON|invalid"),
        ("{}", "missing required field"),
        (mutated(("data",), KeyError), "missing required field `data`"),
        (mutated(("data", "u"), KeyError), "missing required field `u`"),
        (mutated(("data", "u"), "7"), "Expected `int`"),
        (mutated(("type",), "update"), "neither snapshot nor delta"),
        (mutated(("topic",), "orderbook.500.BTCUSDT"), "does not match"),
        (mutated(("topic",), "publicTrade.XRPUSDT"), "does not match"),
        (mutated(("data", "b"), [["1.95", "NaN"]]), "finite"),
        (mutated(("data", "a"), [["1.95", "-1"]]), ">= 0"),
        (mutated(("data", "a"), [["0", "1"]]), "> 0"),
        (mutated(("ts",), -5), "negative"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(payload: str | bytes, reason: str) -> None:
    with pytest.raises(DataError, match=reason):
        parser().parse(payload)


def test_unknown_symbols_are_refused() -> None:
    with pytest.raises(DataError, match="unknown symbol"):
        BybitOrderbookParser({"BTCUSDT": "BTC/USDT:USDT@bybit"}).parse(raw_lines()[1])
