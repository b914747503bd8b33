"""`grekko up` as a real process: the bundled BTC/USDT slice replayed through the kernel into SQLite."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from paper_session_support import (
    STARTING_CASH,
    assert_store_is_consistent,
    clean_env,
    count,
    read_events,
    recovered_state,
    run_up,
    start_up,
    state_of,
    up_command,
    wait_for,
    write_settings,
)

from grekko.domain.events import AccountFunded, OrderFilled, OrderSubmitted

pytestmark = pytest.mark.slow

BARS = 3000


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One uninterrupted 3000-bar session: the reference the other tests compare with."""
    data_dir = write_settings(tmp_path_factory.mktemp("one-run") / "data")
    return data_dir, run_up(data_dir, max_bars=BARS)


def test_session_trades_and_prints_its_final_state(one_run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = one_run
    session = summary["session"]
    assert session["stopped_by"] == "max_bars"
    assert session["bars_processed"] == session["live_bars"] == BARS
    assert session["warmup_bars"] == 0
    assert session["instruments"] == ["BTC/USDT@paper"]
    assert summary["funded"] == str(STARTING_CASH)
    assert summary["trading_state"] == "active"
    assert session["fills"] > 100  # SMA 3/8 on 1-minute bars crosses every few bars
    statuses = {order["status"] for order in summary["orders"].values()}
    assert statuses <= {"filled", "accepted"}, statuses


def test_orders_and_fills_are_in_the_sqlite_store(one_run: tuple[Path, dict[str, Any]]) -> None:
    data_dir, summary = one_run
    events = assert_store_is_consistent(data_dir)
    assert count(events, OrderSubmitted) == len(summary["orders"])
    assert count(events, OrderFilled) == summary["session"]["fills"]
    assert count(events, AccountFunded) == 1


def test_a_fresh_kernel_recovers_the_same_state(one_run: tuple[Path, dict[str, Any]]) -> None:
    data_dir, summary = one_run
    assert recovered_state(data_dir) == state_of(summary)


def test_session_logs_json_lines(one_run: tuple[Path, dict[str, Any]]) -> None:
    data_dir, _ = one_run
    lines = (data_dir / "logs" / "grekko.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert any(r["event"] == "grekko up" and "settings" in r for r in records)
    assert all({"event", "level", "timestamp", "logger"} <= set(r) for r in records)


def test_a_finished_session_restarted_changes_nothing(
    one_run: tuple[Path, dict[str, Any]],
) -> None:
    data_dir, summary = one_run
    events_before = len(read_events(data_dir))
    again = run_up(data_dir, max_bars=BARS)
    assert again["session"]["live_bars"] == 0
    assert again["session"]["warmup_bars"] == BARS
    assert state_of(again) == state_of(summary)
    assert len(read_events(data_dir)) == events_before


def test_stopped_and_resumed_equals_one_uninterrupted_run(
    one_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A session ended between bars resumes as if it had never stopped: same orders, same ids."""
    _, reference = one_run
    data_dir = write_settings(tmp_path / "data")
    first = run_up(data_dir, max_bars=1234)
    assert first["session"]["bars_processed"] == 1234
    resumed = run_up(data_dir, max_bars=BARS)
    assert resumed["session"]["warmup_bars"] == 1234
    assert resumed["session"]["live_bars"] == BARS - 1234
    assert state_of(resumed) == state_of(reference)
    assert resumed["equity"] == reference["equity"]


def test_ctrl_c_stops_between_bars_and_the_session_resumes_exactly(
    one_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, reference = one_run
    data_dir = write_settings(tmp_path / "data")
    process = start_up(data_dir, speed=300, max_bars=BARS)
    wait_for(process, data_dir, lambda events: count(events, OrderFilled) >= 5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    stopped = json.loads(out)
    assert stopped["session"]["stopped_by"] == "signal"
    assert 0 < stopped["session"]["bars_processed"] < BARS
    assert recovered_state(data_dir) == state_of(stopped)
    resumed = run_up(data_dir, max_bars=BARS)
    assert state_of(resumed) == state_of(reference)


def test_a_second_session_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    """Two writers would hand out the same client order ids; the second one must not start."""
    data_dir = write_settings(tmp_path / "data")
    first = start_up(data_dir, speed=200, max_bars=BARS)
    try:
        wait_for(first, data_dir, lambda events: count(events, OrderSubmitted) >= 1)
        second = subprocess.run(
            up_command(data_dir, speed=100_000, max_bars=BARS),
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
            check=False,
        )
        assert second.returncode == 2
        assert "another `grekko up` is running" in second.stderr
        assert second.stdout == ""
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert first.returncode == 0
