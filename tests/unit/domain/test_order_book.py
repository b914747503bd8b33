"""OrderBook: level bookkeeping, queries, atomic diffs, and properties against a plain dict model."""

from __future__ import annotations

import itertools
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.core.errors import DataError
from grekko.domain.order_book import (
    BookSide,
    BookSnapshot,
    CrossedBook,
    OrderBook,
    parse_levels,
)

BID, ASK = BookSide.BID, BookSide.ASK
IID = "BTC/USDT@binance"


def make_book() -> OrderBook:
    book = OrderBook(IID)
    book.apply_snapshot(
        bids=[(100.0, 1.0), (99.5, 2.0), (99.0, 3.0)],
        asks=[(100.5, 1.5), (101.0, 2.5), (102.0, 4.0)],
        sequence=10,
        ts=1_000,
    )
    return book


def state(book: OrderBook) -> tuple[object, ...]:
    return (book.levels(BID), book.levels(ASK), book.sequence, book.ts)


def test_snapshot_then_queries() -> None:
    book = make_book()
    assert book.best_bid() == (100.0, 1.0)
    assert book.best_ask() == (100.5, 1.5)
    assert book.spread() == pytest.approx(0.5)
    assert book.mid() == pytest.approx(100.25)
    assert book.top(2) == (((100.0, 1.0), (99.5, 2.0)), ((100.5, 1.5), (101.0, 2.5)))
    assert book.depth(BID) == 3
    assert book.depth(ASK) == 3
    assert book.size_at(ASK, 101.0) == 2.5
    assert book.size_at(ASK, 101.5) == 0.0
    assert (book.sequence, book.ts) == (10, 1_000)
    assert not book.is_crossed()


def test_empty_book_has_no_top() -> None:
    book = OrderBook(IID)
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.spread() is None
    assert book.mid() is None
    assert book.volume_within(0.01) == (0.0, 0.0)
    assert book.sequence == -1
    assert book.snapshot(5) == BookSnapshot(IID, 0, -1, (), ())


def test_delta_sets_inserts_and_removes_levels() -> None:
    book = make_book()
    book.apply_delta(BID, 99.5, 7.0)  # change
    book.apply_delta(BID, 100.2, 0.5)  # new best
    book.apply_delta(ASK, 100.5, 0.0)  # remove best
    book.apply_delta(ASK, 250.0, 0.0)  # removing a missing level is a no-op
    assert book.levels(BID) == ((100.2, 0.5), (100.0, 1.0), (99.5, 7.0), (99.0, 3.0))
    assert book.levels(ASK) == ((101.0, 2.5), (102.0, 4.0))
    assert book.best_ask() == (101.0, 2.5)


def test_volume_to_and_within_band() -> None:
    book = make_book()
    assert book.volume_to(BID, 99.5) == pytest.approx(3.0)  # 100.0 and 99.5
    assert book.volume_to(ASK, 101.0) == pytest.approx(4.0)  # 100.5 and 101.0
    assert book.volume_to(ASK, 100.0) == 0.0
    # mid 100.25; 1 % band: bids >= 99.2475, asks <= 101.2525
    assert book.volume_within(0.01) == (pytest.approx(3.0), pytest.approx(4.0))


def test_snapshot_replaces_everything_and_skips_zero_sizes() -> None:
    book = make_book()
    book.apply_snapshot([(50.0, 1.0), (49.0, 0.0)], [(51.0, 2.0)], sequence=20, ts=2_000)
    assert state(book) == (((50.0, 1.0),), ((51.0, 2.0),), 20, 2_000)


def test_crossed_snapshot_is_refused_and_book_kept() -> None:
    book = make_book()
    before = state(book)
    with pytest.raises(CrossedBook, match="crossed"):
        book.apply_snapshot([(101.0, 1.0)], [(100.0, 1.0)], sequence=11, ts=1)
    assert state(book) == before


def test_diff_that_would_cross_is_rolled_back() -> None:
    book = make_book()
    before = state(book)
    with pytest.raises(CrossedBook, match="would cross"):
        book.apply_diff([(99.5, 0.0), (100.7, 1.0)], [(102.0, 9.0)], sequence=11, ts=2)
    assert state(book) == before


def test_diff_that_only_crosses_in_between_is_fine() -> None:
    """Venues list bids before asks; the book is judged after the whole message."""
    book = make_book()
    book.apply_diff([(100.5, 2.0)], [(100.5, 0.0), (100.7, 1.0)], sequence=11, ts=2)
    assert book.best_bid() == (100.5, 2.0)
    assert book.best_ask() == (100.7, 1.0)
    assert (book.sequence, book.ts) == (11, 2)


@pytest.mark.parametrize(
    ("price", "size"),
    [(math.nan, 1.0), (100.0, math.nan), (math.inf, 1.0), (0.0, 1.0), (-1.0, 1.0), (100.0, -0.1)],
)
def test_bad_values_are_refused_without_change(price: float, size: float) -> None:
    book = make_book()
    before = state(book)
    with pytest.raises(DataError):
        book.apply_delta(BID, price, size)
    with pytest.raises(DataError):
        book.apply_diff([(99.0, 1.0), (price, size)], [], sequence=11, ts=2)
    with pytest.raises(DataError):
        book.apply_snapshot([(price, size)], [], sequence=11, ts=2)
    assert state(book) == before


def test_parse_levels_accepts_venue_text_and_refuses_garbage() -> None:
    assert parse_levels([["1.5", "2"], [3, 4.5]], "x") == ((1.5, 2.0), (3.0, 4.5))
    for bad, reason in [
        ("1,2", "list"),
        ([["1"]], "pair"),
        ([[True, "1"]], "not a number"),
        ([["abc", "1"]], "not a number"),
        ([["1", "NaN"]], "finite"),
        ([["1", "-2"]], ">= 0"),
        ([[None, "1"]], "not a number"),
    ]:
        with pytest.raises(DataError, match=reason):
            parse_levels(bad, "x")


def test_book_snapshot_is_a_frozen_msgspec_value() -> None:
    snap = make_book().snapshot(2)
    assert snap.bids == ((100.0, 1.0), (99.5, 2.0))
    assert snap.mid() == pytest.approx(100.25)
    again = msgspec.json.decode(msgspec.json.encode(snap), type=BookSnapshot)
    assert again == snap
    with pytest.raises(AttributeError):
        snap.sequence = 3  # type: ignore[misc]


# ---- properties ------------------------------------------------------------------------------
prices = st.integers(min_value=1, max_value=60).map(lambda n: n * 0.5)
sizes = st.one_of(st.just(0.0), st.integers(min_value=1, max_value=1000).map(lambda n: n / 8))
levels = st.lists(st.tuples(prices, sizes), max_size=15)
deltas = st.lists(st.tuples(st.sampled_from([BID, ASK]), prices, sizes), max_size=60)


def apply_model(model: dict[float, float], price: float, size: float) -> None:
    if size == 0.0:
        model.pop(price, None)
    else:
        model[price] = size


def check_invariants(book: OrderBook) -> None:
    bid_prices = [p for p, _ in book.levels(BID)]
    ask_prices = [p for p, _ in book.levels(ASK)]
    assert all(a > b for a, b in itertools.pairwise(bid_prices))
    assert all(a < b for a, b in itertools.pairwise(ask_prices))
    assert all(s > 0 for _, s in book.levels(BID) + book.levels(ASK))


@settings(max_examples=300, deadline=None)
@given(bids=levels, asks=levels, moves=deltas)
def test_deltas_match_a_dict_model(
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    moves: list[tuple[BookSide, float, float]],
) -> None:
    bid_model: dict[float, float] = {}
    ask_model: dict[float, float] = {}
    for price, size in bids:
        apply_model(bid_model, price, size)
    for price, size in asks:
        apply_model(ask_model, price, size)
    book = OrderBook(IID)
    if bid_model and ask_model and max(bid_model) >= min(ask_model):
        with pytest.raises(CrossedBook):
            book.apply_snapshot(bids, asks, 1, 1)
        return
    book.apply_snapshot(bids, asks, 1, 1)
    for side, price, size in moves:
        book.apply_delta(side, price, size)
        apply_model(bid_model if side is BID else ask_model, price, size)
        check_invariants(book)
    assert book.levels(BID) == tuple(sorted(bid_model.items(), reverse=True))
    assert book.levels(ASK) == tuple(sorted(ask_model.items()))
    best_bid = max(bid_model) if bid_model else None
    best_ask = min(ask_model) if ask_model else None
    assert book.best_bid() == (None if best_bid is None else (best_bid, bid_model[best_bid]))
    assert book.best_ask() == (None if best_ask is None else (best_ask, ask_model[best_ask]))
    assert book.is_crossed() == (
        best_bid is not None and best_ask is not None and best_bid >= best_ask
    )


@settings(max_examples=150, deadline=None)
@given(diffs=st.lists(st.tuples(levels, levels), max_size=20))
def test_diffs_are_atomic_and_never_leave_the_book_crossed(
    diffs: list[tuple[list[tuple[float, float]], list[tuple[float, float]]]],
) -> None:
    book = OrderBook(IID)
    book.apply_snapshot([(10.0, 1.0)], [(20.0, 1.0)], 0, 0)
    for seq, (bids, asks) in enumerate(diffs, start=1):
        before = state(book)
        bid_model, ask_model = dict(book.levels(BID)), dict(book.levels(ASK))
        for price, size in bids:
            apply_model(bid_model, price, size)
        for price, size in asks:
            apply_model(ask_model, price, size)
        crosses = bool(bid_model and ask_model and max(bid_model) >= min(ask_model))
        if crosses:
            with pytest.raises(CrossedBook):
                book.apply_diff(bids, asks, seq, seq)
            assert state(book) == before
        else:
            book.apply_diff(bids, asks, seq, seq)
            assert book.levels(BID) == tuple(sorted(bid_model.items(), reverse=True))
            assert book.levels(ASK) == tuple(sorted(ask_model.items()))
            assert book.sequence == seq
        assert not book.is_crossed()
        check_invariants(book)
