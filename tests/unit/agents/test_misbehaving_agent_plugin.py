"""The per-agent caps hold against an agent plugin that breaks the rules on purpose.

The rogue is installed as a real entry point (a dist-info on sys.path) and started by the
PluginManager like any third-party agent; the coordinator and the risk engine stop it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.bootstrap import BacktestSpec, build_backtest
from grekko.bootstrap.agents import build_agent_desk
from grekko.core.errors import ConfigError
from grekko.domain.agents import AgentType, Decision, ProposalType
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide, OrderStatus
from grekko.domain.events import OrderDenied
from grekko.domain.risk import AgentLimit

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "rogue_agent"
IID = "BTC/USDT@paper"


@pytest.fixture
def rogue_installed(tmp_path: Path) -> Iterator[None]:
    info = tmp_path / "rogue_agent-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rogue-agent\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[grekko.agents]\nrogue = rogue_agent:RogueGekko\n")
    sys.path[:0] = [str(tmp_path), str(FIXTURE)]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.path.remove(str(FIXTURE))
        sys.modules.pop("rogue_agent", None)
        importlib.invalidate_caches()


def _desk_with_rogue() -> tuple[object, object]:
    path = bundled_files()[0]
    setup = build_backtest(BacktestSpec(files=(path,), strategy="sma_cross", cash=Decimal(100_000)))
    kernel = setup.kernel
    kernel.trader.remove("sma_cross")
    desk = build_agent_desk(kernel, kernel.store, ["spot", "gordo", "rogue"], vote_timeout_s=None)
    for ts_open, ts_close, o, h, low, c, v in iter_bar_rows(load_bars(path), 0, 40):
        kernel.clock.set_time(ts_close)  # type: ignore[attr-defined]
        kernel.data.process_bar(Bar(IID, o, h, low, c, v, ts_open, ts_close))
    return kernel, desk


@pytest.mark.usefixtures("rogue_installed")
def test_a_rogue_plugin_cannot_outvote_outsize_or_leave_its_strategies() -> None:
    kernel, desk = _desk_with_rogue()
    assert type(desk.agents["rogue"]).__name__ == "RogueGekko"  # loaded through the entry point
    proposal = desk.new_proposal(
        "gordo", ProposalType.BUY, IID, Decimal("0.01"), strategy="manual", rationale="test"
    )
    record = desk.coordinator.submit(proposal)
    rogue_vote = next(v for v in record.votes if v.agent_id == "rogue")
    assert rogue_vote.weight == 3  # the seat's weight, not the 100 it claimed
    assert record.total_weight == 6

    own = desk.new_proposal(
        "rogue", ProposalType.BUY, IID, Decimal("0.01"), strategy="trend_following", rationale="x"
    )
    record = desk.coordinator.submit(own)
    assert record.decision is Decision.APPROVED
    assert len(record.client_order_ids) == 2
    oversized, unapproved = (kernel.cache.orders[oid] for oid in record.client_order_ids)
    assert oversized.quantity == Decimal("0.50")
    assert oversized.status is OrderStatus.DENIED
    assert unapproved.status is OrderStatus.DENIED
    reasons = {o.status: o.reason for o in record.outcomes.values()}
    assert "per-trade cap 2%" in record.outcomes[oversized.client_order_id].reason
    assert "pre-approved" in record.outcomes[unapproved.client_order_id].reason
    assert set(reasons) == {"denied"}
    assert kernel.portfolio.position_qty(IID) == 0


@pytest.mark.usefixtures("rogue_installed")
def test_no_configuration_path_raises_a_cap() -> None:
    _, desk = _desk_with_rogue()
    with pytest.raises(ValueError, match=r"outside 0\.\.0\.02"):
        desk.configure("rogue", "mallory", risk_budget_pct=Decimal("0.5"))
    with pytest.raises(ValueError, match="hard cap"):
        AgentLimit("rogue", AgentType.GEKKO, Decimal("0.021"))
    with pytest.raises(ValueError, match="hard cap"):
        AgentLimit("spot", AgentType.SPOT, Decimal("0.001"))
    assert desk.configs["rogue"].risk_budget_pct == Decimal("0.02")


def test_an_unknown_agent_plugin_is_a_config_error() -> None:
    path = bundled_files()[0]
    setup = build_backtest(BacktestSpec(files=(path,), strategy="sma_cross"))
    with pytest.raises(ConfigError, match=r"no plugin .rogue. in group grekko\.agents"):
        build_agent_desk(setup.kernel, setup.kernel.store, ["spot", "rogue"])


def test_orders_under_an_agent_id_pass_the_risk_engine_only_within_its_limit() -> None:
    path = bundled_files()[0]
    setup = build_backtest(BacktestSpec(files=(path,), strategy="sma_cross", cash=Decimal(100_000)))
    kernel = setup.kernel
    for ts_open, ts_close, o, h, low, c, v in iter_bar_rows(load_bars(path), 0, 5):
        kernel.clock.set_time(ts_close)  # type: ignore[attr-defined]
        kernel.data.process_bar(Bar(IID, o, h, low, c, v, ts_open, ts_close))
    from grekko.agents.hosting import Executor

    def agent_order(sid: str, qty: str, side: OrderSide = OrderSide.BUY) -> str:
        context = kernel.trader.add(Executor(sid))
        oid = context.submit_market(IID, side, Decimal(qty))
        assert oid is not None
        denials = [
            r.event.reason
            for r in kernel.store.read_all()
            if type(r.event) is OrderDenied and r.event.client_order_id == oid
        ]
        return denials[0] if denials else ""

    unregistered = agent_order("agent:ghost:manual:BTC-USDT", "0.001")
    assert "no risk budget registered" in unregistered
    kernel.risk.set_agent_limit(AgentLimit("spot", AgentType.SPOT, Decimal(0)))
    assert "read-only" in agent_order("agent:spot:manual:BTC-USDT", "0.001")
    kernel.risk.set_agent_limit(AgentLimit("gordo", AgentType.GORDO, Decimal("0.05")))
    assert "per-trade cap 5%" in agent_order("agent:gordo:manual2:BTC-USDT", "1")
    assert agent_order("agent:gordo:manual3:BTC-USDT", "0.01") == ""
