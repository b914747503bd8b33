"""Binance depth parsing (recorded CSV, WS depthUpdate, REST snapshot) on the real BTCUSDT sample."""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from grekko.adapters.feeds.binance_depth import BinanceDepthParser
from grekko.core.errors import DataError
from grekko.domain.order_book import BookSide, DepthDiff, DepthSnapshot
from grekko.engines.books import BookManager, BookSyncState
from grekko.engines.bus import MessageBus

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "books"
SNAP_CSV = FIXTURES / "binance_btcusdt-depth-snap.csv.gz"
UPDATE_CSV = FIXTURES / "binance_btcusdt-depth-update.csv.gz"
IID = "BTC/USDT:USDT@binance"
HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu"


def parser(market: str = "futures") -> BinanceDepthParser:
    return BinanceDepthParser({"BTCUSDT": IID}, market=market)  # type: ignore[arg-type]


def rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def real_messages() -> tuple[DepthSnapshot, DepthDiff]:
    p = parser()
    (snap,) = p.read_csv(SNAP_CSV)
    (diff,) = p.read_csv(UPDATE_CSV)
    assert isinstance(snap, DepthSnapshot)
    assert isinstance(diff, DepthDiff)
    return snap, diff


def test_csv_rows_become_one_snapshot_and_one_diff() -> None:
    snap, diff = real_messages()
    snap_rows, diff_rows = rows(SNAP_CSV), rows(UPDATE_CSV)
    assert (snap.sequence, snap.ts) == (2098021528332, 1667346579146 * 10**6)
    assert len(snap.bids) == 100
    assert snap.asks == ()
    assert snap.bids[:2] == ((20377.0, 1.77), (20376.9, 0.001))
    assert (diff.first_id, diff.last_id, diff.prev_id) == (
        2098041693435,
        2098041696700,
        2098041693400,
    )
    assert diff.ts == 1667347199939 * 10**6
    assert len(diff.bids) + len(diff.asks) == len(diff_rows) == 100
    want_asks = tuple((float(r["price"]), float(r["qty"])) for r in diff_rows if r["side"] == "a")
    assert diff.asks == want_asks
    assert len(snap.bids) == len(snap_rows)


def depth_update_json(diff_rows: list[dict[str, str]]) -> str:
    """The same update as Binance sends it on `btcusdt@depth` (fields per the USDⓈ-M docs)."""
    first = diff_rows[0]
    return json.dumps(
        {
            "e": "depthUpdate",
            "E": int(first["timestamp"]),
            "T": int(first["timestamp"]) - 3,
            "s": first["symbol"],
            "U": int(first["first_update_id"]),
            "u": int(first["last_update_id"]),
            "pu": int(first["pu"]),
            "b": [[r["price"], r["qty"]] for r in diff_rows if r["side"] == "b"],
            "a": [[r["price"], r["qty"]] for r in diff_rows if r["side"] == "a"],
        }
    )


def test_ws_depth_update_parses_to_the_same_diff_as_the_csv() -> None:
    _, diff = real_messages()
    assert parser().parse_ws(depth_update_json(rows(UPDATE_CSV))) == diff


def test_rest_snapshot_parses_to_the_same_snapshot_as_the_csv() -> None:
    snap, _ = real_messages()
    snap_rows = rows(SNAP_CSV)
    payload = json.dumps(
        {
            "lastUpdateId": int(snap_rows[0]["last_update_id"]),
            "E": int(snap_rows[0]["timestamp"]) + 2,
            "T": int(snap_rows[0]["timestamp"]),
            "bids": [[r["price"], r["qty"]] for r in snap_rows],
            "asks": [],
        }
    )
    assert parser().parse_rest_snapshot(payload, "BTCUSDT") == snap
    spot = json.dumps({"lastUpdateId": 7, "bids": [["1.0", "2"]], "asks": [["1.5", "3"]]})
    parsed = parser("spot").parse_rest_snapshot(spot.encode(), "BTCUSDT", ts_recv=123)
    assert (parsed.sequence, parsed.ts, parsed.asks) == (7, 123, ((1.5, 3.0),))


def test_the_real_snapshot_is_too_old_for_the_real_update() -> None:
    """The sample's snapshot is 10 minutes older than its diff: U > lastUpdateId is a gap."""
    snap, diff = real_messages()
    requests: list[str] = []
    manager = BookManager(MessageBus(), parser().sequencer, requests.append)
    manager.on_message(diff)  # stream first, as Binance's procedure says
    manager.on_message(snap)
    assert manager.state(IID) is BookSyncState.RESYNC_NEEDED
    stats = manager.stats()
    assert (stats["gaps"], stats["pending"], stats["resync_requests"]) == (1, 1, 2)
    assert requests == [IID, IID]


def test_book_from_snapshot_and_update_matches_a_decimal_replay() -> None:
    """To exercise the live path the snapshot's id is moved inside the diff's range (U..u)."""
    snap, diff = real_messages()
    bridged = DepthSnapshot(snap.instrument_id, snap.bids, snap.asks, diff.first_id + 10, snap.ts)
    manager = BookManager(MessageBus(), parser().sequencer, lambda _iid: None, depth=5)
    manager.on_message(diff)
    manager.on_message(bridged)
    assert manager.state(IID) is BookSyncState.LIVE
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    for r in rows(SNAP_CSV) + rows(UPDATE_CSV):
        side = bids if r["side"] == "b" else asks
        if Decimal(r["qty"]) == 0:
            side.pop(Decimal(r["price"]), None)
        else:
            side[Decimal(r["price"])] = Decimal(r["qty"])
    book = manager.book(IID)
    assert book is not None
    want_bids = tuple((float(p), float(q)) for p, q in sorted(bids.items(), reverse=True))
    want_asks = tuple((float(p), float(q)) for p, q in sorted(asks.items()))
    assert book.levels(BookSide.BID) == want_bids
    assert book.levels(BookSide.ASK) == want_asks
    assert book.best_bid() == (20472.1, 22.276)  # read off the update file
    assert book.best_ask() == (20472.2, 4.211)
    assert book.spread() == pytest.approx(0.1)
    assert book.sequence == diff.last_id
    assert not book.is_crossed()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{not json", "malformed|JSON"),
        ("[]", "Expected `object`"),
        (
            '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[]}',
            "missing required field `a`",
        ),
        ('{"e":"trade","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}', "event type"),
        (
            '{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}',
            "unknown symbol",
        ),
        ('{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}', "without 'pu'"),
        (
            '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":2,"pu":0,"b":[],"a":[]}',
            "out of order",
        ),
        ('{"e":"depthUpdate","E":-1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}', "negative"),
        (
            '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1","NaN"]],"a":[]}',
            "finite",
        ),
        (
            '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[["1","-3"]]}',
            ">= 0",
        ),
        (
            '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["x","1"]],"a":[]}',
            "not a number",
        ),
        (
            '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":true,"pu":0,"b":[],"a":[]}',
            "Expected `int`",
        ),
        (
            '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1"]],"a":[]}',
            "length 2",
        ),
    ],
)
def test_malformed_ws_events_are_refused_with_a_reason(payload: str, reason: str) -> None:
    with pytest.raises(DataError, match=reason):
        parser().parse_ws(payload)


def test_spot_events_need_no_pu() -> None:
    diff = parser("spot").parse_ws(
        '{"e":"depthUpdate","E":5,"s":"BTCUSDT","U":11,"u":12,"b":[["1.5","2"]],"a":[]}'
    )
    assert (diff.first_id, diff.last_id, diff.prev_id, diff.ts) == (11, 12, None, 5_000_000)


def test_malformed_rest_snapshots_are_refused() -> None:
    with pytest.raises(DataError, match="lastUpdateId"):
        parser().parse_rest_snapshot('{"bids":[],"asks":[]}', "BTCUSDT")
    with pytest.raises(DataError, match="< 0"):
        parser().parse_rest_snapshot('{"lastUpdateId":-1,"bids":[],"asks":[]}', "BTCUSDT")
    with pytest.raises(DataError, match="unknown symbol"):
        parser().parse_rest_snapshot('{"lastUpdateId":1,"bids":[],"asks":[]}', "XRPUSDT")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("BTCUSDT,1,1,1,b,snap,1.0,1.0\n", "9 fields|8 fields"),
        ("BTCUSDT,1,1,1,x,snap,1.0,1.0,-1\n", "side"),
        ("BTCUSDT,1,1,1,b,delete,1.0,1.0,-1\n", "update_type"),
        ("BTCUSDT,abc,1,1,b,snap,1.0,1.0,-1\n", "not an integer"),
        ("BTCUSDT,1,1,1,b,snap,1.0,nan,-1\n", "finite"),
        ("BTCUSDT,1,1,1,b,snap,zero,1.0,-1\n", "not a number"),
        ("BTCUSDT,1,1,2,b,set,1.0,1.0,-1\n", "without pu"),
        ("ETHUSDT,1,1,1,b,snap,1.0,1.0,-1\n", "unknown symbol"),
    ],
)
def test_malformed_csv_rows_are_refused_with_the_line(body: str, reason: str) -> None:
    with pytest.raises(DataError, match=reason):
        list(parser().iter_csv([HEADER + "\n", body]))


def test_csv_without_the_expected_header_is_refused() -> None:
    with pytest.raises(DataError, match="header"):
        list(parser().iter_csv(["a,b,c\n"]))
    with pytest.raises(DataError, match="header"):
        list(parser().iter_csv([]))
