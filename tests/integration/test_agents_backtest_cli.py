"""`grekko backtest --agents` on the bundled real-data slice, in a subprocess: the agents section
of its JSON against the fills of the same JSON, Gordo's trades without --auto-confirm, and clear
errors (exit code 2) for agent options that cannot work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from grekko.adapters.files.bars import bundled_files

pytestmark = pytest.mark.slow

CASH = Decimal(100_000)
AGENTS = "spot,gordo,gekko"


def grekko_command() -> list[str]:
    script = Path(sys.executable).parent / "grekko"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "grekko.cli"]


def start(args: list[str], data_dir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREKKO_")}
    env["COLUMNS"] = "250"  # typer wraps its error box at the terminal width
    return subprocess.Popen(
        [*grekko_command(), "backtest", "--no-progress", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


def agent_of(client_order_id: str) -> str:
    """O-agent:<agent>:<strategy>#<symbol>-<n> -> <agent>."""
    assert client_order_id.startswith("O-agent:"), client_order_id
    return client_order_id.split(":")[1]


def strategy_of(client_order_id: str) -> str:
    return client_order_id.split(":")[2].partition("#")[0]


@pytest.fixture(scope="module")
def btc() -> Path:
    return next(f for f in bundled_files() if f.name.startswith("BTCUSDT"))


@pytest.fixture(scope="module")
def runs(btc: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Any]]:
    """Both runs at once, in parallel: (stdout summary, JSON file) of each."""
    tmp = tmp_path_factory.mktemp("agents")
    common = ["--data", str(btc), "--agents", AGENTS, "--cash", str(CASH)]
    args = {
        "confirmed": [
            *common, "--auto-confirm",
            "--agent-param", "gekko.quantity=0.05",
            "--agent-param", "gekko.run=trend_following,mean_reversion",
            "--agent-param", "gordo.quantity=0.05",
        ],
        "unconfirmed": [*common, "--agent-param", "gordo.quantity=0.05"],
    }  # fmt: skip
    processes = {
        name: start([*a, "--json-out", str(tmp / f"{name}.json")], tmp / f"data-{name}")
        for name, a in args.items()
    }
    out = {}
    for name, process in processes.items():
        code, stdout, err = finish(process)
        assert code == 0, err
        assert "Traceback" not in err
        out[name] = (json.loads(stdout), json.loads((tmp / f"{name}.json").read_text()))
    return out


def test_the_agents_section_is_in_the_json_and_the_summary(
    runs: dict[str, tuple[Any, Any]],
) -> None:
    summary, payload = runs["confirmed"]
    section = payload["agents"]
    assert summary["agents"] == section
    assert section["auto_confirm"] is True
    assert set(section["by_agent"]) == {"spot", "gordo", "gekko"}
    assert payload["strategy"] is None
    assert payload["handler_errors"] == 0


def test_each_agents_book_is_made_of_its_own_fills(runs: dict[str, tuple[Any, Any]]) -> None:
    _, payload = runs["confirmed"]
    fills_by_agent: dict[str, list[dict[str, str]]] = {}
    for f in payload["fills"]:
        fills_by_agent.setdefault(agent_of(f["client_order_id"]), []).append(f)
    assert set(fills_by_agent) == {"gordo", "gekko"}  # Spot never trades
    for agent, entry in payload["agents"]["by_agent"].items():
        book, own = entry["book"], fills_by_agent.get(agent, [])
        assert book["fills"] == len(own)
        turnover = sum((Decimal(f["qty"]) * Decimal(f["price"]) for f in own), Decimal(0))
        assert Decimal(book["turnover"]) == turnover
        assert Decimal(book["fees"]) == sum((Decimal(f["fee"]) for f in own), Decimal(0))
        assert book["hit_rate"] is None or 0.0 <= book["hit_rate"] <= 1.0
    net = sum(Decimal(e["book"]["net_pnl"]) for e in payload["agents"]["by_agent"].values())
    assert abs(net - (Decimal(payload["final_equity"]) - CASH)) < Decimal("1e-6")


def test_agent_params_reach_the_hosted_strategies(runs: dict[str, tuple[Any, Any]]) -> None:
    _, payload = runs["confirmed"]
    gekko = [o for o in payload["orders"] if agent_of(o["client_order_id"]) == "gekko"]
    assert {strategy_of(o["client_order_id"]) for o in gekko} == {
        "trend_following",
        "mean_reversion",
    }
    assert max(Decimal(o["quantity"]) for o in gekko) <= Decimal("0.05")


def test_proposal_counts_add_up(runs: dict[str, tuple[Any, Any]]) -> None:
    _, payload = runs["confirmed"]
    section = payload["agents"]
    total = section["proposals"]["total"]
    assert total == sum(e["proposals"]["total"] for e in section["by_agent"].values())
    assert total == sum(section["proposals"]["by_decision"].values())
    assert total == sum(section["proposals"]["by_status"].values())
    assert section["by_agent"]["spot"]["proposals"]["total"] == 0
    gordo = section["by_agent"]["gordo"]["proposals"]
    assert gordo["total"] > 0
    assert "awaiting_confirmation" not in gordo["by_status"]  # auto-confirmed
    decided = Counter(section["proposals"]["by_decision"])
    yes = decided["approved"] + decided["modified"]
    assert section["proposals"]["approval_rate"] == pytest.approx(yes / (yes + decided["rejected"]))


def test_without_auto_confirm_gordo_waits_and_never_trades(
    runs: dict[str, tuple[Any, Any]],
) -> None:
    _, payload = runs["unconfirmed"]
    section = payload["agents"]
    assert section["auto_confirm"] is False
    gordo = section["by_agent"]["gordo"]
    assert gordo["book"]["fills"] == 0
    assert gordo["proposals"]["total"] > 0
    assert set(gordo["proposals"]["by_status"]) <= {
        "expired",
        "awaiting_confirmation",
        "rejected",
    }
    assert gordo["proposals"]["by_status"].get("expired", 0) > 0
    traders = {agent_of(o["client_order_id"]) for o in payload["orders"]}
    assert "gordo" not in traders
    assert section["by_agent"]["gekko"]["book"]["fills"] > 0  # Gekko needs nobody's click


# refused while the options are read, before any data is loaded: checked in-process
BAD_OPTIONS = {
    "auto-confirm without agents": (["--auto-confirm"], "--auto-confirm needs --agents"),
    "agent-param without agents": (["--agent-param", "gekko.quantity=1"], "needs --agents"),
    "agent-param without value": (
        ["--agents", AGENTS, "--agent-param", "gekko.quantity"],
        "<agent>.<key>=<value>",
    ),
    "agent-param without agent": (
        ["--agents", AGENTS, "--agent-param", "quantity=0.05"],
        "<agent>.<key>=<value>",
    ),
    "agent-param for an agent not running": (
        ["--agents", "spot,gekko", "--agent-param", "gordo.quantity=1"],
        "which --agents does not run",
    ),
    "risk budget not a number": (
        ["--agents", AGENTS, "--agent-param", "gekko.risk_budget_pct=lots"],
        "risk_budget_pct must be a number",
    ),
    "strategy params with agents": (["--agents", AGENTS, "--param", "fast=3"], "--agent-param"),
}


@pytest.mark.parametrize("case", list(BAD_OPTIONS))
def test_bad_agent_options_are_refused_with_exit_code_2(
    btc: Path, tmp_path: Path, case: str
) -> None:
    from typer.testing import CliRunner

    from grekko.cli import app

    args, message = BAD_OPTIONS[case]
    base = ["backtest", "--no-progress", "--data-dir", str(tmp_path), "--data", str(btc)]
    result = CliRunner().invoke(app, [*base, *args], env={"COLUMNS": "250"})
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# refused when the agents are configured: the real command, for its exit code and message
BAD_SETTINGS = {
    "agent-param of the wrong type": (
        ["--agents", AGENTS, "--agent-param", "gekko.quantity=abc"],
        "quantity='abc' is not a Decimal",
    ),
    "risk budget over the cap": (
        ["--agents", AGENTS, "--agent-param", "gekko.risk_budget_pct=0.5"],
        "outside 0..0.02",
    ),
    "unknown agent": (["--agents", "spot,nobody"], "nobody"),
}


@pytest.fixture(scope="module")
def bad_runs(
    btc: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, str, str]]:
    tmp = tmp_path_factory.mktemp("bad-agents")
    processes = {
        name: start(["--data", str(btc), *args], tmp / "data")
        for name, (args, _) in BAD_SETTINGS.items()
    }
    return {name: finish(process) for name, process in processes.items()}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_bad_agent_settings_are_a_clear_error_with_exit_code_2(
    bad_runs: dict[str, tuple[int, str, str]], case: str
) -> None:
    code, out, err = bad_runs[case]
    assert code == 2, (out, err)
    assert BAD_SETTINGS[case][1] in err
    assert "Traceback" not in err
    assert out == ""
