"""Running `grekko up` as a real process and reading what it left in its SQLite store.

Shared by the paper-session tests; nothing here stands in for the session: it starts the real
command, and reads the database with the real SqlEventStore and a freshly recovered Kernel.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from grekko.adapters.files.bars import bundled_files
from grekko.adapters.sql import SqlEventStore
from grekko.core.time import TestClock
from grekko.domain.enums import OrderSide
from grekko.domain.events import (
    AccountFunded,
    OrderAccepted,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
)
from grekko.domain.instruments import spot
from grekko.engines.kernel import Kernel, describe
from grekko.paper.checkpoint import CURSOR_STREAM, ReplayCursor, decode_cursor
from grekko.ports.event_store import RecordedEvent

STATE_KEYS = ("balances", "positions", "orders", "trading_state")
STARTING_CASH = Decimal(100_000)
RUN_TIMEOUT_S = 120


def bundled_btc_file() -> Path:
    return next(p for p in bundled_files() if p.name.startswith("BTCUSDT"))


def write_settings(
    data_dir: Path,
    *,
    latency_ms: int = 0,
    volume_participation: str | None = None,
    agents: tuple[str, ...] = (),
) -> Path:
    """A fast-trading session on the bundled BTC/USDT slice: SMA 3/8 crosses every few bars.

    Agents are off unless asked for: Gordo's confirmations expire in wall time, which would make
    two runs of the same bars differ, and these sessions are compared run against run."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "grekko.toml").write_text(
        f"""
[replay]
files = ["{bundled_btc_file()}"]
strategy = "sma_cross"
quantity = 0.01

[replay.params]
fast = 3
slow = 8

[agents]
enabled = [{", ".join(f'"{a}"' for a in agents)}]

[paper]
starting_cash = {STARTING_CASH}
latency_ms = {latency_ms}
"""
        + (f"volume_participation = {volume_participation}\n" if volume_participation else "")
    )
    return data_dir


def clean_env() -> dict[str, str]:
    """The caller's environment without GREKKO_* settings that would change the session."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("GREKKO_")}


def up_command(data_dir: Path, *, speed: float, max_bars: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "grekko.cli",
        "up",
        "--no-serve",
        "--no-devnet",
        "--data-dir",
        str(data_dir),
        "--no-view",
        "--speed",
        str(speed),
        "--max-bars",
        str(max_bars),
    ]


def run_up(data_dir: Path, *, speed: float = 100_000, max_bars: int = 3000) -> dict[str, Any]:
    """Run a session to its end; its final summary (JSON on stdout)."""
    done = subprocess.run(
        up_command(data_dir, speed=speed, max_bars=max_bars),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def start_up(data_dir: Path, *, speed: float, max_bars: int = 3000) -> subprocess.Popen[str]:
    return subprocess.Popen(
        up_command(data_dir, speed=speed, max_bars=max_bars),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def db_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'grekko.db'}"


def read_events(data_dir: Path) -> list[RecordedEvent]:
    store = SqlEventStore(db_url(data_dir))
    try:
        return list(store.read_all())
    finally:
        store.close()


def read_cursor(data_dir: Path) -> ReplayCursor | None:
    store = SqlEventStore(db_url(data_dir))
    try:
        snapshot = store.load_snapshot(CURSOR_STREAM)
    finally:
        store.close()
    return None if snapshot is None else decode_cursor(snapshot)


def wait_for(
    process: subprocess.Popen[str],
    data_dir: Path,
    ready: Callable[[list[RecordedEvent]], bool],
    timeout_s: float = 60.0,
) -> list[RecordedEvent]:
    """Poll the live session's database until `ready(events)`; fail if the process ends first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"session ended early: {process.communicate()[1]}"
        if (data_dir / "grekko.db").exists():
            events = read_events(data_dir)
            if ready(events):
                return events
        time.sleep(0.005)
    process.kill()
    raise AssertionError("the session never reached the awaited state")


def kill_hard(process: subprocess.Popen[str]) -> None:
    """SIGKILL: no handler, no cleanup, no flush: the crash the store must survive."""
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def count(events: list[RecordedEvent], kind: type) -> int:
    return sum(1 for r in events if type(r.event) is kind)


def recovered_state(data_dir: Path) -> dict[str, Any]:
    """describe() of a brand-new Kernel rebuilt from nothing but the store."""
    store = SqlEventStore(db_url(data_dir))
    try:
        kernel = Kernel(TestClock(0), store)
        kernel.add_instrument(spot("BTC/USDT"))
        kernel.recover()
        return describe(kernel)
    finally:
        store.close()


def state_of(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: summary[key] for key in STATE_KEYS}


# ---- invariants of a store, whatever happened to the process that wrote it -----------------------
def assert_each_order_reached_the_venue_at_most_once(events: list[RecordedEvent]) -> None:
    per_order: dict[type, Counter[str]] = defaultdict(Counter)
    venue_ids: list[str] = []
    for record in events:
        event = record.event
        if type(event) in (OrderInitialized, OrderSubmitted, OrderAccepted):
            per_order[type(event)][event.client_order_id] += 1
        if type(event) is OrderAccepted:
            venue_ids.append(event.venue_order_id)
    for kind, counts in per_order.items():
        repeated = {cid: n for cid, n in counts.items() if n > 1}
        assert not repeated, f"{kind.__name__} stored more than once: {repeated}"
    assert len(venue_ids) == len(set(venue_ids)), "a venue order id was reused"


def assert_positions_and_balances_follow_fills(
    events: list[RecordedEvent], state: dict[str, Any]
) -> None:
    """Positions are the signed sum of fills; balances are funding plus the fills' cash flows."""
    expected_balances: dict[str, Decimal] = defaultdict(Decimal)
    expected_positions: dict[str, Decimal] = defaultdict(Decimal)
    for record in events:
        event = record.event
        if type(event) is AccountFunded:
            expected_balances[event.currency] += event.amount
        elif type(event) is OrderFilled:
            base, _, quote = event.instrument_id.partition("@")[0].partition("/")
            sign = 1 if event.side is OrderSide.BUY else -1
            expected_positions[event.instrument_id] += sign * event.last_qty
            expected_balances[base] += sign * event.last_qty
            expected_balances[quote] -= sign * event.last_qty * event.last_px + event.fee
    positions = {iid: Decimal(p["quantity"]) for iid, p in state["positions"].items()}
    balances = {c: Decimal(v) for c, v in state["balances"].items()}
    assert positions == dict(expected_positions)
    assert balances == dict(expected_balances)


def assert_one_decision_per_bar(events: list[RecordedEvent]) -> None:
    """No strategy made two orders on one bar, and order numbers rise with time, never reused."""
    inits = [r.event for r in events if type(r.event) is OrderInitialized]
    assert inits, "the session made no orders"
    seen: Counter[tuple[str, int]] = Counter((e.strategy_id, e.ts_event) for e in inits)
    twice = {key: n for key, n in seen.items() if n > 1}
    assert not twice, f"several orders on one bar: {twice}"
    numbered = sorted(inits, key=lambda e: int(e.client_order_id.rsplit("-", 1)[1]))
    times = [e.ts_event for e in numbered]
    assert times == sorted(times), "a later order number was given to an earlier bar"
    numbers = [int(e.client_order_id.rsplit("-", 1)[1]) for e in numbered]
    assert numbers == list(range(1, len(numbers) + 1)), "client order ids skipped or repeated"


def assert_order_events_move_forward(events: list[RecordedEvent]) -> None:
    """An order's events never go back in replay time: nothing filled it against old bars."""
    last_ts: dict[str, int] = {}
    for record in events:
        cid = getattr(record.event, "client_order_id", None)
        if cid is None:
            continue
        assert record.event.ts_event >= last_ts.get(cid, 0), f"{cid} went back in time: {record}"
        last_ts[cid] = record.event.ts_event


def assert_store_is_consistent(data_dir: Path) -> list[RecordedEvent]:
    """Every invariant, on whatever the store holds now; returns the events read."""
    events = read_events(data_dir)
    assert_each_order_reached_the_venue_at_most_once(events)
    assert_order_events_move_forward(events)
    assert_positions_and_balances_follow_fills(events, recovered_state(data_dir))
    assert_one_decision_per_bar(events)
    return events
