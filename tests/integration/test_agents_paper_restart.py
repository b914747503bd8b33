"""Agents in a paper session on SQLite: what they decided survives a restart, and nothing repeats.

The session is the real one `grekko up` builds (settings file, SQLite store, replay of the bundled
slice); the restart opens the same data dir again.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

from paper_session_support import write_settings

from grekko.bootstrap import build_paper_session
from grekko.domain.events import OrderInitialized
from grekko.settings import load_settings

AGENTS = ("spot", "gordo", "gekko")


def _run(data_dir: Path, bars: int) -> object:
    session = build_paper_session(load_settings(data_dir), speed=1e9, max_bars=bars)
    session.run(threading.Event())
    return session


def test_ledger_config_and_ids_survive_a_restart(tmp_path: Path) -> None:
    data_dir = write_settings(tmp_path / "data", agents=AGENTS)
    first = _run(data_dir, 1500)
    desk = first.agents  # type: ignore[attr-defined]
    assert sorted(desk.agents) == sorted(AGENTS)
    ledger = desk.coordinator.ledger
    assert ledger.records, "no agent proposed anything in 1,500 bars"
    assert {r.proposal.proposer for r in ledger.records.values()} >= {"gekko"}
    before = {pid: r.as_dict() for pid, r in ledger.records.items()}
    desk.configure("gekko", "alice", risk_budget_pct=Decimal("0.01"))
    desk.update_state("spot", "alice", {"veto": 0.25, "notes": "calm"})
    first.close()  # type: ignore[attr-defined]

    second = _run(data_dir, 3000)
    desk2 = second.agents  # type: ignore[attr-defined]
    assert desk2.configs["gekko"].risk_budget_pct == Decimal("0.01")
    spot = desk2.agents["spot"]
    assert (spot.veto, spot.notes) == (0.25, "calm")
    assert second.kernel.risk.agent_limits["gekko"].max_trade_pct == Decimal("0.01")  # type: ignore[attr-defined]
    after = desk2.coordinator.ledger.records
    for pid, record in before.items():
        assert after[pid].as_dict()["decision"] == record["decision"]
        assert after[pid].as_dict()["votes"] == record["votes"]
    new_ids = [pid for pid in after if pid not in before]
    assert new_ids, "the second run proposed nothing"
    highest_before = max(int(pid.split("-")[1]) for pid in before)
    assert min(int(pid.split("-")[1]) for pid in new_ids) == highest_before + 1
    inits = [
        r.event
        for r in second.store.read_all()  # type: ignore[attr-defined]
        if type(r.event) is OrderInitialized
    ]
    ids = [e.client_order_id for e in inits]
    assert len(ids) == len(set(ids))
    second.close()  # type: ignore[attr-defined]
