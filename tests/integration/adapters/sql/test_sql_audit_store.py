"""SqlAuditLog on SQLite and PostgreSQL: a chain that tampering with raw SQL visibly breaks."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from grekko.adapters.sql import SqlEventStore
from grekko.adapters.sql.audit_store import SqlAuditLog
from grekko.core.errors import DataError
from grekko.core.time import TestClock
from grekko.domain.audit import GENESIS_HASH, REDACTED

OpenSql = Callable[..., SqlEventStore]
T0 = 1_717_000_000_000_000_000


def _filled(open_sql: OpenSql, n: int) -> SqlAuditLog:
    log = SqlAuditLog(open_sql().engine, clock=TestClock(T0))
    for i in range(n):
        log.append(f"user:{i % 2}", "order.submit" if i % 3 else "login", f"o-{i}", {"i": i})
    return log


def _execute(log: SqlAuditLog, sql: str, **params: object) -> None:
    with log.engine.begin() as connection:
        connection.execute(sa.text(sql), params)


def test_append_chains_and_list_pages_newest_first(open_sql: OpenSql) -> None:
    log = _filled(open_sql, 10)
    entries = log.list(limit=100)
    assert [e.seq for e in entries] == list(range(10, 0, -1))
    assert entries[-1].prev_hash == GENESIS_HASH
    assert all(e.prev_hash == older.hash for e, older in itertools.pairwise(entries))
    assert entries[0].detail_dict() == {"i": 9}

    page = log.list(limit=3, before_seq=8)
    assert [e.seq for e in page] == [7, 6, 5]
    assert {e.actor for e in log.list(actor="user:1")} == {"user:1"}
    assert [e.seq for e in log.list(action="login")] == [10, 7, 4, 1]
    head = log.head()
    assert head is not None
    assert (head.seq, head.hash) == (10, entries[0].hash)
    assert log.verify(chunk_size=3).ok
    assert log.verify().checked == 10


def test_an_empty_log_verifies(open_sql: OpenSql) -> None:
    log = SqlAuditLog(open_sql().engine)
    assert log.head() is None
    assert log.verify().ok


def test_an_edited_detail_is_found_at_its_seq(open_sql: OpenSql) -> None:
    log = _filled(open_sql, 12)
    _execute(log, "UPDATE audit_log SET detail = :d WHERE seq = 7", d='{"i":600}')
    result = log.verify(chunk_size=5)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 7, 6)
    assert "edited" in result.reason


def test_a_deleted_middle_row_is_found(open_sql: OpenSql) -> None:
    log = _filled(open_sql, 12)
    _execute(log, "DELETE FROM audit_log WHERE seq = 5")
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "missing" in result.reason


def test_reordered_rows_are_found(open_sql: OpenSql) -> None:
    log = _filled(open_sql, 8)
    _execute(log, "UPDATE audit_log SET seq = -1 WHERE seq = 3")
    _execute(log, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    _execute(log, "UPDATE audit_log SET seq = 4 WHERE seq = -1")
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_appends_from_four_threads_form_one_chain(open_sql: OpenSql) -> None:
    log = SqlAuditLog(open_sql().engine)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(250):
                log.append(f"worker:{worker}", "test.append", f"item-{i}", {"i": i})
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    result = log.verify()
    assert (result.ok, result.checked) == (True, 1000)
    with log.engine.connect() as connection:
        seqs = connection.execute(sa.text("SELECT seq FROM audit_log ORDER BY seq")).scalars()
        assert list(seqs) == list(range(1, 1001))
    assert {e.actor for e in log.list(limit=1000)} == {f"worker:{w}" for w in range(4)}


def test_secrets_never_reach_the_stored_detail(open_sql: OpenSql) -> None:
    registered = "registered-secret-value"
    log = SqlAuditLog(open_sql().engine, redact=lambda text: text.replace(registered, REDACTED))
    log.append(
        "admin",
        "vault.put",
        "exchange/coinbase/api_secret",
        {
            "value": "gk_abcdefghijklmnopqrstuvwxyz012",
            "password": "hunter2hunter2",
            "note": registered,
        },
    )
    with log.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT detail FROM audit_log")).scalar_one()
    for secret in ("gk_abcdefghijklmnopqrstuvwxyz012", "hunter2hunter2", registered):
        assert secret not in stored
    assert log.verify().ok


def test_bad_input_is_a_data_error(open_sql: OpenSql) -> None:
    log = SqlAuditLog(open_sql().engine, max_detail_bytes=100)
    with pytest.raises(DataError, match="actor must be a non-empty"):
        log.append("", "login", "alice")
    with pytest.raises(DataError, match="detail must be a mapping"):
        log.append("admin", "login", "alice", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="over 100 bytes"):
        log.append("admin", "login", "alice", {"blob": "x" * 200})
    with pytest.raises(DataError, match="limit must be within"):
        log.list(limit=0)
    assert log.head() is None


def test_the_store_offers_no_way_to_rewrite_history(open_sql: OpenSql) -> None:
    log = SqlAuditLog(open_sql().engine)
    public = {name for name in dir(log) if not name.startswith("_")}
    assert public == {"append", "list", "head", "verify", "engine"}
