"""Order books rebuilt from the full real samples in shared/data, checked against independent replays.

Binance: the sample is one 100-row snapshot and one 100-row diff message taken ten minutes later,
so (1) by Binance's rules the diff cannot follow that snapshot, and (2) to exercise gaps inside a
stream the real diff is cut into five consecutive messages whose update ids partition its U..u
range (pu chaining them, the first keeping the real pu). The levels are always the real rows.
Bybit: all 50 recorded messages, as they came.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from grekko.adapters.feeds import BinanceDepthParser, BybitOrderbookParser
from grekko.domain.order_book import BookSide, BookSnapshot, DepthDiff, DepthSnapshot
from grekko.engines.books import BookManager, BookSyncState, book_topic
from grekko.engines.bus import MessageBus
from shared_data import shared_file

pytestmark = pytest.mark.shared

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "books"
BTC = "BTC/USDT:USDT@binance"
XRP = "XRP/USDT:USDT@bybit"
BINANCE = BinanceDepthParser({"BTCUSDT": BTC})
BYBIT = BybitOrderbookParser({"XRPUSDT": XRP})
Levels = tuple[tuple[float, float], ...]


class Recorder:
    def __init__(self, instrument_id: str, sequencer: object) -> None:
        self.bus = MessageBus()
        self.published: list[BookSnapshot] = []
        self.requests: list[str] = []
        self.bus.subscribe(book_topic(instrument_id), self.published.append)
        self.manager = BookManager(self.bus, sequencer, self.requests.append, depth=10)  # type: ignore[arg-type]


# ---- Binance ---------------------------------------------------------------------------------
def binance_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    snap = pd.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-snap.csv"))
    upd = pd.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-update.csv"))
    return snap, upd


def pandas_book(*frames: pd.DataFrame) -> tuple[Levels, Levels]:
    """Absolute 'set' rows: the last row per (side, price) wins; qty 0 means no level."""
    rows = pd.concat(frames, ignore_index=True).drop_duplicates(["side", "price"], keep="last")
    rows = rows[rows["qty"] > 0]
    bids = rows[rows["side"] == "b"].sort_values("price", ascending=False)
    asks = rows[rows["side"] == "a"].sort_values("price")
    return (
        tuple(zip(bids["price"].tolist(), bids["qty"].tolist(), strict=True)),
        tuple(zip(asks["price"].tolist(), asks["qty"].tolist(), strict=True)),
    )


def chunked_stream(upd: pd.DataFrame, parts: int = 5) -> list[tuple[pd.DataFrame, DepthDiff]]:
    """The real diff rows as `parts` consecutive WS depthUpdate events, parsed by the WS parser."""
    first_id, last_id, pu = (
        int(upd[c].iloc[0]) for c in ("first_update_id", "last_update_id", "pu")
    )
    step = (last_id - first_id + 1) // parts
    size = -(-len(upd) // parts)
    out: list[tuple[pd.DataFrame, DepthDiff]] = []
    prev = pu
    for i in range(parts):
        rows = upd.iloc[i * size : (i + 1) * size]
        lo = first_id + i * step
        hi = last_id if i == parts - 1 else lo + step - 1
        event = {
            "e": "depthUpdate",
            "E": int(rows["timestamp"].iloc[0]),
            "T": int(rows["timestamp"].iloc[0]),
            "s": "BTCUSDT",
            "U": lo,
            "u": hi,
            "pu": prev,
            "b": [
                [f"{p:.2f}", f"{q:.3f}"]
                for p, q, s in rows[["price", "qty", "side"]].itertuples(index=False)
                if s == "b"
            ],
            "a": [
                [f"{p:.2f}", f"{q:.3f}"]
                for p, q, s in rows[["price", "qty", "side"]].itertuples(index=False)
                if s == "a"
            ],
        }
        out.append((rows, BINANCE.parse_ws(json.dumps(event))))
        prev = hi
    return out


def test_fixture_copies_are_the_shared_files() -> None:
    for name in ("binance_btcusdt-depth-snap.csv", "binance_btcusdt-depth-update.csv"):
        shared = shared_file("ticks_orderbook", name).read_bytes()
        assert gzip.decompress((FIXTURES / f"{name}.gz").read_bytes()) == shared
    with zipfile.ZipFile(shared_file("ticks_orderbook", "bybit_xrpusdt-ob500.data.zip")) as zf:
        lines = zf.read(zf.namelist()[0]).splitlines()
    fixture = gzip.decompress((FIXTURES / "bybit_xrpusdt-ob500-first10.data.gz").read_bytes())
    assert fixture.splitlines() == lines[:10]


def test_binance_full_files_parse_to_what_pandas_sees() -> None:
    snap_df, upd_df = binance_frames()
    snap_msgs = BINANCE.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-snap.csv"))
    upd_msgs = BINANCE.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-update.csv"))
    assert len(snap_msgs) == snap_df["last_update_id"].nunique() == 1
    assert len(upd_msgs) == upd_df["last_update_id"].nunique() == 1
    (diff,) = upd_msgs
    assert isinstance(diff, DepthDiff)
    assert len(diff.bids) == int((upd_df["side"] == "b").sum())
    assert len(diff.asks) == int((upd_df["side"] == "a").sum())
    assert diff.prev_id == int(upd_df["pu"].iloc[0])


def test_binance_real_snapshot_needs_a_newer_one() -> None:
    (snap,) = BINANCE.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-snap.csv"))
    (diff,) = BINANCE.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-update.csv"))
    rec = Recorder(BTC, BINANCE.sequencer)
    rec.manager.on_message(diff)
    rec.manager.on_message(snap)
    assert rec.manager.state(BTC) is BookSyncState.RESYNC_NEEDED
    assert rec.requests == [BTC, BTC]
    assert rec.published == []


def test_binance_stream_rebuilds_the_book_pandas_computes() -> None:
    snap_df, upd_df = binance_frames()
    (snap,) = BINANCE.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-snap.csv"))
    assert isinstance(snap, DepthSnapshot)
    stream = chunked_stream(upd_df)
    rec = Recorder(BTC, BINANCE.sequencer)
    first = stream[0][1]
    rec.manager.on_message(DepthSnapshot(BTC, snap.bids, snap.asks, first.first_id + 1, snap.ts))
    for _, diff in stream:
        rec.manager.on_message(diff)
    want_bids, want_asks = pandas_book(snap_df, upd_df)
    book = rec.manager.book(BTC)
    assert book is not None
    assert rec.manager.state(BTC) is BookSyncState.LIVE
    assert book.levels(BookSide.BID) == want_bids
    assert book.levels(BookSide.ASK) == want_asks
    assert book.best_bid() == want_bids[0]
    assert book.best_ask() == want_asks[0]
    assert book.mid() == pytest.approx((want_bids[0][0] + want_asks[0][0]) / 2)
    assert len(rec.published) == 1 + len(stream)
    assert rec.published[-1].bids == want_bids[:10]
    assert rec.published[-1].asks == want_asks[:10]
    assert rec.manager.stats()["gaps"] == 0


def test_binance_lost_message_is_a_gap_and_a_newer_snapshot_resyncs() -> None:
    snap_df, upd_df = binance_frames()
    (snap,) = BINANCE.read_csv(shared_file("ticks_orderbook", "binance_btcusdt-depth-snap.csv"))
    stream = chunked_stream(upd_df)
    rec = Recorder(BTC, BINANCE.sequencer)
    rec.manager.on_message(DepthSnapshot(BTC, snap.bids, snap.asks, stream[0][1].first_id + 1, 0))
    for i, (_, diff) in enumerate(stream):
        if i != 2:  # message 2 lost
            rec.manager.on_message(diff)
    assert rec.manager.state(BTC) is BookSyncState.RESYNC_NEEDED
    assert rec.requests == [BTC]
    stats = rec.manager.stats()
    assert (stats["gaps"], stats["applied"], stats["pending"]) == (1, 2, 2)
    # the venue's answer: the real book as of an id inside message 3 (which includes message 2)
    bids, asks = pandas_book(snap_df, *(rows for rows, _ in stream[:4]))
    newer = DepthSnapshot(BTC, bids, asks, stream[3][1].last_id - 1, stream[3][1].ts)
    rec.manager.on_message(newer)
    assert rec.manager.state(BTC) is BookSyncState.LIVE
    want_bids, want_asks = pandas_book(snap_df, upd_df)
    book = rec.manager.book(BTC)
    assert book is not None
    assert book.levels(BookSide.BID) == want_bids
    assert book.levels(BookSide.ASK) == want_asks
    assert book.sequence == stream[-1][1].last_id
    stats = rec.manager.stats()
    assert (stats["resyncs"], stats["applied"], stats["pending"]) == (1, 4, 0)


# ---- Bybit -----------------------------------------------------------------------------------
def bybit_lines() -> list[bytes]:
    with zipfile.ZipFile(shared_file("ticks_orderbook", "bybit_xrpusdt-ob500.data.zip")) as zf:
        return [line for line in zf.read(zf.namelist()[0]).splitlines() if line.strip()]


def dict_replay(lines: list[bytes]) -> tuple[Levels, Levels, int]:
    """Bybit's documented procedure in plain dicts of Decimal, without Grekko code."""
    sides: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
    last_u = -1
    for line in lines:
        msg = json.loads(line)
        if msg["type"] == "snapshot":
            sides = {"b": {}, "a": {}}
        for key, side in sides.items():
            for price, size in msg["data"][key]:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = Decimal(size)
        last_u = msg["data"]["u"]
    bids = tuple((float(p), float(q)) for p, q in sorted(sides["b"].items(), reverse=True))
    asks = tuple((float(p), float(q)) for p, q in sorted(sides["a"].items()))
    return bids, asks, last_u


def test_bybit_all_50_messages_match_a_dict_replay() -> None:
    lines = bybit_lines()
    assert len(lines) == 50
    rec = Recorder(XRP, BYBIT.sequencer)
    for message in BYBIT.read_file(shared_file("ticks_orderbook", "bybit_xrpusdt-ob500.data.zip")):
        rec.manager.on_message(message)
    bids, asks, last_u = dict_replay(lines)
    book = rec.manager.book(XRP)
    assert book is not None
    assert book.levels(BookSide.BID) == bids
    assert book.levels(BookSide.ASK) == asks
    assert book.sequence == last_u == 20254918
    assert not book.is_crossed()
    stats = rec.manager.stats()
    assert (stats["snapshots"], stats["applied"], stats["gaps"]) == (1, 49, 0)
    assert len(rec.published) == 50
    assert rec.published[-1].bids == bids[:10]
    assert rec.published[-1].asks == asks[:10]


def test_bybit_dropped_delta_is_a_gap_and_a_resubscribe_resyncs() -> None:
    lines = bybit_lines()
    rec = Recorder(XRP, BYBIT.sequencer)
    for i, line in enumerate(lines[:40]):
        if i != 20:
            rec.manager.on_message(BYBIT.parse(line))
    assert rec.manager.state(XRP) is BookSyncState.RESYNC_NEEDED
    assert rec.requests == [XRP]
    assert rec.manager.stats()["pending"] == 19
    published = len(rec.published)
    # the resubscription's snapshot reflects the book as of message 30
    bids, asks, u30 = dict_replay(lines[:31])
    rec.manager.on_message(DepthSnapshot(XRP, bids, asks, u30, 0))
    for line in lines[40:]:
        rec.manager.on_message(BYBIT.parse(line))
    full_bids, full_asks, _ = dict_replay(lines)
    book = rec.manager.book(XRP)
    assert book is not None
    assert rec.manager.state(XRP) is BookSyncState.LIVE
    assert book.levels(BookSide.BID) == full_bids
    assert book.levels(BookSide.ASK) == full_asks
    stats = rec.manager.stats()
    assert (stats["gaps"], stats["resyncs"], stats["stale"], stats["pending"]) == (1, 1, 10, 0)
    assert len(rec.published) == published + 1 + 10
