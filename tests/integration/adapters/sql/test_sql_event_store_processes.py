"""Two OS processes writing one database: the concurrency a kernel plus an API process has."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from grekko.adapters.sql import SqlEventStore

# A writer that opens the store (so two run the migrations at once), then for each round reads the
# race stream's version, says "ready", waits for "go" and appends expecting that version; finally
# it appends to a shared stream without a version check and reports its results.
WRITER = """
import json, sys
from grekko.adapters.sql import SqlEventStore
from grekko.core.errors import ConcurrencyError
from grekko.domain.events import OrderSubmitted

url, schema, writer, rounds = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), int(sys.argv[4])
store = SqlEventStore(url, schema=schema)
print("open", flush=True)
for n in range(rounds):
    version = store.stream_version("race")
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        store.append("race", [OrderSubmitted(ts_event=n, client_order_id=f"w{writer}")], version)
        print("won", flush=True)
    except ConcurrencyError:
        print("lost", flush=True)
sys.stdin.readline()
for n in range(rounds):
    store.append("shared", [OrderSubmitted(ts_event=n, client_order_id=f"w{writer}")])
store.close()
print("done", flush=True)
"""
ROUNDS = 12


@contextmanager
def _writers(url: str, schema: str | None) -> Iterator[list[subprocess.Popen[str]]]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, schema or "", str(writer), str(ROUNDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for writer in range(2)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def _say_to_all(processes: list[subprocess.Popen[str]], line: str) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()


def _hear_from_all(processes: list[subprocess.Popen[str]]) -> list[str]:
    heard = []
    for process in processes:
        assert process.stdout is not None
        heard.append(process.stdout.readline().strip())
    return heard


def _race(url: str, schema: str | None = None) -> None:
    with _writers(url, schema) as processes:
        assert _hear_from_all(processes) == ["open", "open"]
        for _ in range(ROUNDS):
            assert _hear_from_all(processes) == ["ready", "ready"]
            _say_to_all(processes, "go")
            assert sorted(_hear_from_all(processes)) == ["lost", "won"]
        _say_to_all(processes, "go")
        assert _hear_from_all(processes) == ["done", "done"]
    with SqlEventStore(url, schema=schema) as store:
        assert [record.version for record in store.read("race")] == list(range(1, ROUNDS + 1))
        shared = store.read("shared")
        assert [record.version for record in shared] == list(range(1, 2 * ROUNDS + 1))
        assert len({(r.event.client_order_id, r.event.ts_event) for r in shared}) == 2 * ROUNDS


@pytest.mark.slow
def test_two_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    _race(f"sqlite:///{tmp_path}/grekko.db")


@pytest.mark.slow
def test_two_processes_on_one_postgres_schema(postgres_url: str, pg_schema: str) -> None:
    _race(postgres_url, pg_schema)
