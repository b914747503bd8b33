"""BookManager: the sync state machine (buffer, bridge, gap, resync) on the real bus and sequencers."""

from __future__ import annotations

from typing import Any

import pytest

from grekko.adapters.feeds import BinanceDepthParser, BinanceSequencer, BybitSequencer
from grekko.domain.order_book import BookSnapshot, DepthDiff, DepthSnapshot
from grekko.engines.books import BookManager, BookSequencer, BookSyncState, SeqVerdict, book_topic
from grekko.engines.bus import MessageBus

IID = "BTC/USDT:USDT@binance"
OUTCOMES = ("snapshots", "applied", "stale", "rejected", "crossed", "overflowed", "pending")


class Harness:
    def __init__(self, sequencer: BookSequencer, **kwargs: Any) -> None:
        self.bus = MessageBus()
        self.published: list[BookSnapshot] = []
        self.requests: list[str] = []
        self.bus.subscribe(book_topic(IID), self.published.append)
        self.manager = BookManager(self.bus, sequencer, self.requests.append, **kwargs)

    def feed(self, *messages: DepthSnapshot | DepthDiff) -> None:
        for message in messages:
            self.manager.on_message(message)

    @property
    def state(self) -> BookSyncState | None:
        return self.manager.state(IID)


def no_request(instrument_id: str) -> None:
    """For tests whose books never need a snapshot."""


def accounted(manager: BookManager) -> bool:
    stats = manager.stats()
    return stats["received"] == sum(stats[k] for k in OUTCOMES)


def snap(seq: int, bid: float = 100.0, ask: float = 101.0) -> DepthSnapshot:
    return DepthSnapshot(IID, ((bid, 1.0), (bid - 1, 2.0)), ((ask, 1.0), (ask + 1, 2.0)), seq, seq)


def diff(first: int, last: int, prev: int | None, bids: Any = (), asks: Any = ()) -> DepthDiff:
    return DepthDiff(IID, tuple(bids), tuple(asks), first, last, prev, last)


def test_diffs_before_the_first_snapshot_are_buffered_and_replayed() -> None:
    h = Harness(BinanceSequencer("futures"))
    h.feed(diff(95, 99, 90, bids=[(99.0, 5.0)]), diff(100, 105, 99, bids=[(100.5, 1.0)]))
    assert h.requests == [IID]  # asked once, not per diff
    assert h.state is BookSyncState.SYNCING
    assert h.published == []
    h.feed(snap(102), diff(106, 110, 105, asks=[(101.0, 0.0)]))
    # 95..99 is older than the snapshot (dropped), 100..105 bridges 102, 106..110 follows
    stats = h.manager.stats()
    assert (stats["stale"], stats["applied"], stats["snapshots"], stats["pending"]) == (1, 2, 1, 0)
    assert h.state is BookSyncState.LIVE
    book = h.manager.book(IID)
    assert book is not None
    assert book.best_bid() == (100.5, 1.0)
    assert book.best_ask() == (102.0, 2.0)
    assert book.sequence == 110
    assert [p.sequence for p in h.published] == [105, 110]
    assert h.published[-1] == book.snapshot(20)
    assert accounted(h.manager)


def test_gap_marks_the_book_out_of_sync_and_a_new_snapshot_resyncs_it() -> None:
    h = Harness(BinanceSequencer("futures"))
    h.feed(snap(100), diff(99, 101, 98), diff(102, 104, 101))
    assert h.state is BookSyncState.LIVE
    h.feed(diff(108, 110, 107, bids=[(100.2, 1.0)]))  # 105..107 never came
    assert h.state is BookSyncState.RESYNC_NEEDED
    assert h.requests == [IID]
    h.feed(diff(111, 113, 110, bids=[(100.3, 1.0)]))  # buffered, no second request
    assert h.requests == [IID]
    assert h.manager.stats()["pending"] == 2
    published = len(h.published)
    h.feed(snap(109))  # the answer: 108..110 bridges it, 111..113 follows
    stats = h.manager.stats()
    assert h.state is BookSyncState.LIVE
    assert (stats["gaps"], stats["resyncs"], stats["resync_requests"]) == (1, 1, 1)
    assert h.manager.book(IID).best_bid() == (100.3, 1.0)  # type: ignore[union-attr]
    assert len(h.published) == published + 1  # one publication for snapshot + replay
    assert h.published[-1].sequence == 113
    assert accounted(h.manager)


def test_a_snapshot_older_than_the_buffer_asks_again() -> None:
    h = Harness(BinanceSequencer("futures"))
    h.feed(diff(200, 210, 190))
    h.feed(snap(150))  # 200 > 150: the snapshot predates the stream we hold
    assert h.state is BookSyncState.RESYNC_NEEDED
    assert h.requests == [IID, IID]
    assert h.manager.stats()["gaps"] == 1
    h.feed(snap(205))
    assert h.state is BookSyncState.LIVE
    assert h.manager.book(IID).sequence == 210  # type: ignore[union-attr]


def test_spot_rules_bridge_at_last_update_id_plus_one() -> None:
    h = Harness(BinanceSequencer("spot"))
    h.feed(snap(100), diff(95, 100, None))  # u <= lastUpdateId: dropped
    h.feed(diff(101, 103, None), diff(104, 104, None), diff(106, 107, None))
    stats = h.manager.stats()
    assert (stats["stale"], stats["applied"], stats["gaps"]) == (1, 2, 1)


def test_futures_first_diff_must_contain_last_update_id() -> None:
    seq = BinanceSequencer("futures")
    assert seq.check_first(100, diff(90, 99, 80)) is SeqVerdict.STALE
    assert seq.check_first(100, diff(90, 100, 80)) is SeqVerdict.APPLY
    assert seq.check_first(100, diff(100, 120, 80)) is SeqVerdict.APPLY
    assert seq.check_first(100, diff(101, 120, 80)) is SeqVerdict.GAP
    assert seq.check_next(120, diff(121, 130, 120)) is SeqVerdict.APPLY
    assert seq.check_next(120, diff(125, 130, 121)) is SeqVerdict.GAP
    assert seq.check_next(120, diff(110, 120, 100)) is SeqVerdict.STALE
    spot = BinanceSequencer("spot")
    assert spot.check_first(100, diff(90, 100, None)) is SeqVerdict.STALE
    assert spot.check_first(100, diff(101, 102, None)) is SeqVerdict.APPLY
    assert spot.check_first(100, diff(102, 103, None)) is SeqVerdict.GAP
    with pytest.raises(ValueError, match="futures"):
        BinanceSequencer("margin")  # type: ignore[arg-type]


def test_bybit_in_stream_snapshot_resets_even_to_a_lower_sequence() -> None:
    h = Harness(BybitSequencer())
    h.feed(snap(500), diff(501, 501, None, bids=[(100.5, 3.0)]), diff(502, 502, None))
    assert h.manager.stats()["applied"] == 2
    h.feed(snap(1, bid=90.0, ask=91.0))  # a u=1 restart snapshot
    assert h.manager.book(IID).best_bid() == (90.0, 1.0)  # type: ignore[union-attr]
    h.feed(diff(3, 3, None))
    assert h.state is BookSyncState.RESYNC_NEEDED


def test_a_crossing_diff_is_refused_and_triggers_a_resync() -> None:
    h = Harness(BinanceSequencer("futures"))
    h.feed(snap(100), diff(100, 101, 99, bids=[(101.5, 1.0)]))
    stats = h.manager.stats()
    assert (stats["crossed"], stats["applied"]) == (1, 0)
    assert h.state is BookSyncState.RESYNC_NEEDED
    book = h.manager.book(IID)
    assert book is not None
    assert not book.is_crossed()
    assert book.best_bid() == (100.0, 1.0)
    assert h.requests == [IID]
    assert accounted(h.manager)


def test_invalid_messages_are_rejected_and_counted() -> None:
    h = Harness(BinanceSequencer("futures"))
    h.feed(snap(100))
    h.feed(diff(101, 100, 100))  # ids out of order
    h.feed(diff(101, 102, 100, bids=[(float("nan"), 1.0)]))
    h.feed(diff(101, 102, 100, asks=[(102.0, -1.0)]))
    h.feed(DepthSnapshot(IID, ((1.0, 1.0),), (), -5, 0))
    stats = h.manager.stats()
    assert stats["rejected"] == 4
    assert h.state is BookSyncState.LIVE  # a rejected diff alone changes nothing
    h.feed(diff(103, 104, 102))  # ...but the next one shows the hole it left
    assert h.manager.stats()["gaps"] == 1
    assert accounted(h.manager)


def test_buffer_overflow_drops_the_oldest_diffs() -> None:
    h = Harness(BybitSequencer(), max_pending=3)
    h.feed(*(diff(u, u, None) for u in range(10, 15)))
    stats = h.manager.stats()
    assert (stats["pending"], stats["overflowed"]) == (3, 2)
    h.feed(snap(11))
    assert h.manager.stats()["applied"] == 3
    assert accounted(h.manager)


def test_a_failing_request_is_counted_and_retried_on_the_next_diff() -> None:
    calls: list[str] = []

    def flaky(instrument_id: str) -> None:
        calls.append(instrument_id)
        if len(calls) == 1:
            raise ConnectionError("venue down")

    manager = BookManager(MessageBus(), BybitSequencer(), flaky)
    manager.on_message(diff(5, 5, None))
    manager.on_message(diff(6, 6, None))
    manager.on_message(diff(7, 7, None))
    assert calls == [IID, IID]
    assert manager.stats()["request_errors"] == 1


def test_a_synchronous_snapshot_answer_does_not_recurse() -> None:
    """A callback that answers at once with a stale snapshot would otherwise ask forever."""
    bus = MessageBus()
    holder: list[BookManager] = []
    manager = BookManager(bus, BybitSequencer(), lambda _iid: holder[0].on_message(snap(1)))
    holder.append(manager)
    manager.on_message(diff(50, 50, None))
    stats = manager.stats()
    assert stats["snapshots"] == 1
    assert stats["gaps"] == 1
    assert manager.state(IID) is BookSyncState.RESYNC_NEEDED
    manager.resync(IID)  # forced: asks again
    assert manager.stats()["resync_requests"] == 2


def test_on_raw_decodes_and_counts_what_the_decoder_refuses() -> None:
    parser = BinanceDepthParser({"BTCUSDT": IID})
    h = Harness(parser.sequencer, decoder=parser.parse_ws)
    h.feed(snap(100))
    h.manager.on_raw(
        '{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":99,"u":101,"pu":98,'
        '"b":[["100.2","1.5"]],"a":[]}'
    )
    h.manager.on_raw(b"{not json")
    h.manager.on_raw('{"e":"depthUpdate"}')
    stats = h.manager.stats()
    assert (stats["applied"], stats["rejected"], stats["received"]) == (1, 2, 4)
    assert h.manager.book(IID).best_bid() == (100.2, 1.5)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="decoder"):
        BookManager(MessageBus(), BybitSequencer(), no_request).on_raw("{}")
    with pytest.raises(ValueError, match=">= 1"):
        BookManager(MessageBus(), BybitSequencer(), no_request, depth=0)


def test_books_are_kept_per_instrument() -> None:
    bus = MessageBus()
    seen: list[str] = []
    bus.subscribe("data.books.*", lambda s: seen.append(s.instrument_id))
    manager = BookManager(bus, BybitSequencer(), no_request, depth=1)
    other = "ETH/USDT:USDT@binance"
    manager.on_message(snap(10))
    manager.on_message(DepthSnapshot(other, ((10.0, 1.0),), ((11.0, 1.0),), 7, 0))
    manager.on_message(DepthDiff(other, ((10.5, 2.0),), (), 8, 8, None, 1))
    assert manager.instruments() == (IID, other)
    assert seen == [IID, other, other]
    assert manager.book(other).best_bid() == (10.5, 2.0)  # type: ignore[union-attr]
    assert manager.book(IID).sequence == 10  # type: ignore[union-attr]
    assert manager.book("nope") is None
    assert manager.state("nope") is None
    assert manager.stats()["live"] == 2
