"""kill -9 in the middle of `grekko up`, restart, and the store still tells the whole truth.

Nothing is mocked: the session is a real process, killed with SIGKILL while it trades, and every
check reads the SQLite file it left behind with the real event store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from paper_session_support import (
    assert_store_is_consistent,
    count,
    kill_hard,
    read_cursor,
    read_events,
    recovered_state,
    run_up,
    start_up,
    state_of,
    wait_for,
    write_settings,
)

from grekko.domain.events import OrderCanceled, OrderFilled, OrderInitialized, OrderSubmitted
from grekko.ports.event_store import RecordedEvent

pytestmark = pytest.mark.slow

BARS = 3000
LOST = "lost in flight at restart"


def _kill_after_fills(data_dir: Path, at_least: int) -> int:
    """Start (or restart) the session, SIGKILL it once `at_least` fills are stored; bars done."""
    process = start_up(data_dir, speed=400, max_bars=BARS)
    wait_for(process, data_dir, lambda events: count(events, OrderFilled) >= at_least)
    kill_hard(process)
    cursor = read_cursor(data_dir)
    assert cursor is not None
    assert cursor.index < BARS - 1, "the session finished before it could be killed"
    return cursor.index


def test_killed_twice_the_restarted_session_matches_its_store(tmp_path: Path) -> None:
    data_dir = write_settings(tmp_path / "data")
    first_kill = _kill_after_fills(data_dir, at_least=15)
    assert_store_is_consistent(data_dir)
    second_kill = _kill_after_fills(
        data_dir, at_least=count(read_events(data_dir), OrderFilled) + 20
    )
    assert second_kill > first_kill
    assert_store_is_consistent(data_dir)

    summary = run_up(data_dir, max_bars=BARS)

    session = summary["session"]
    assert session["bars_processed"] == BARS
    assert session["warmup_bars"] == second_kill + 1  # the bar in process at the kill included
    assert state_of(summary) == recovered_state(data_dir)  # (1) final state is the store's
    events = assert_store_is_consistent(data_dir)  # (2) at most once, (3) money, (4) decisions
    assert count(events, OrderInitialized) == len(summary["orders"])


def _in_flight(events: list[RecordedEvent]) -> set[str]:
    """Orders whose last stored event is OrderSubmitted: the venue may or may not have them."""
    last: dict[str, type] = {}
    for record in events:
        cid = getattr(record.event, "client_order_id", None)
        if cid is not None:
            last[cid] = type(record.event)
    return {cid for cid, kind in last.items() if kind is OrderSubmitted}


def test_an_order_in_flight_at_the_kill_is_canceled_and_never_sent_again(tmp_path: Path) -> None:
    """With 1 ms venue latency an order waits a bar in flight; kill the session right then."""
    data_dir = write_settings(tmp_path / "data", latency_ms=1)
    caught: set[str] = set()
    for _ in range(5):
        process = start_up(data_dir, speed=40, max_bars=BARS)
        known = _in_flight(read_events(data_dir)) if (data_dir / "grekko.db").exists() else set()
        wait_for(process, data_dir, lambda events, known=known: bool(_in_flight(events) - known))
        kill_hard(process)
        caught = _in_flight(read_events(data_dir))
        if caught:
            break
    assert caught, "five kills in a row missed every order in flight"

    summary = run_up(data_dir, max_bars=BARS)

    assert set(summary["session"]["lost_in_flight"]) == caught
    events = assert_store_is_consistent(data_dir)
    for cid in caught:
        assert summary["orders"][cid]["status"] == "canceled"
        cancels = [
            r.event
            for r in events
            if type(r.event) is OrderCanceled and r.event.client_order_id == cid
        ]
        assert [c.reason for c in cancels] == [LOST]
    assert state_of(summary) == recovered_state(data_dir)


def _partly_filled(events: list[RecordedEvent]) -> set[str]:
    """Orders with some but not all of their quantity filled: working at the venue right now."""
    ordered: dict[str, object] = {}
    filled: dict[str, object] = {}
    for record in events:
        event = record.event
        if type(event) is OrderInitialized:
            ordered[event.client_order_id] = event.quantity
        elif type(event) is OrderFilled:
            filled[event.client_order_id] = filled.get(event.client_order_id, 0) + event.last_qty
    return {cid for cid, qty in filled.items() if qty < ordered[cid]}


def test_a_partly_filled_order_is_restored_and_finished_only_on_new_bars(tmp_path: Path) -> None:
    """A tiny volume cap spreads each order over several bars; kill while one is half done."""
    data_dir = write_settings(tmp_path / "data", volume_participation="0.0001")
    caught: set[str] = set()
    for _ in range(5):
        process = start_up(data_dir, speed=40, max_bars=BARS)
        wait_for(process, data_dir, lambda events: bool(_partly_filled(events)))
        kill_hard(process)
        caught = _partly_filled(read_events(data_dir))
        if caught:
            break
    assert caught, "five kills in a row missed every partly filled order"

    summary = run_up(data_dir, max_bars=BARS)

    assert caught <= set(summary["session"]["restored_orders"])
    events = assert_store_is_consistent(data_dir)  # includes: no fill against warm-up bars
    for cid in caught:
        assert summary["orders"][cid]["status"] in {"filled", "partially_filled"}
    assert state_of(summary) == recovered_state(data_dir)
    assert count(events, OrderInitialized) == len(summary["orders"])
