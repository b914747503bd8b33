"""The agents' REST API and the `agents` WebSocket channel, against the whole platform.

One platform per module (bootstrap as `grekko up` builds it: real auth, paper session, agent desk,
SQLite event store); its 300 bundled bars are replayed to the end first, so the market clock
stands still and the agents' views are the same on every run. Restart and no-desk cases build
platforms of their own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from platform_support import BASE, FAST_LIMITS, PASSWORD, Harness, running_platform
from realtime_support import live_server
from websockets.asyncio.client import connect

from grekko.api.principal import Role
from grekko.bootstrap.api import build_platform
from grekko.settings import load_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")
API = "/api/v1/agents"
BTC = "BTC/USDT@paper"
V, T, A = Role.VIEWER, Role.TRADER, Role.ADMIN


async def replayed(h: Harness) -> Harness:
    session = h.platform.session
    for _ in range(3000):
        if session.progress().phase == "finished":
            return h
        await asyncio.sleep(0.01)
    raise AssertionError(f"the replay did not finish: {session.progress()}")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def h(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with running_platform(tmp_path_factory.mktemp("agents"), bars=300) as harness:
        yield await replayed(harness)


@pytest_asyncio.fixture(loop_scope="module")
async def all_enabled(h: Harness) -> AsyncIterator[None]:
    """Every agent enabled before and after a test that changes the selection."""
    everyone = {"agents": ["spot", "gordo", "gekko"]}
    assert (await h.client.post(f"{API}/select", json=everyone, headers=h.auth(A))).is_success
    yield
    assert (await h.client.post(f"{API}/select", json=everyone, headers=h.auth(A))).is_success


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    return body


async def audit_actions(h: Harness) -> list[str]:
    answer = await h.client.get("/api/v1/audit?limit=500", headers=h.auth(A))
    assert answer.status_code == 200, answer.text
    return [entry["action"] for entry in answer.json()]


# ---- reading -------------------------------------------------------------------------------------
async def test_the_list_shows_spot_gordo_and_gekko_with_weights_1_2_3(h: Harness) -> None:
    answer = await h.client.get(API, headers=h.auth(V))
    assert answer.status_code == 200, answer.text
    agents = {a["agent_id"]: a for a in answer.json()}
    assert {k: a["weight"] for k, a in agents.items()} == {"spot": 1, "gordo": 2, "gekko": 3}
    assert {k: a["agent_type"] for k, a in agents.items()} == {k: k for k in agents}
    caps = {k: a["config"]["max_risk_budget_pct"] for k, a in agents.items()}
    assert caps == {"spot": "0", "gordo": "0.05", "gekko": "0.02"}
    assert all(a["enabled"] and a["state"]["agent_id"] == k for k, a in agents.items())
    # the hosted strategies run for real: one per instrument of the replay
    assert agents["gekko"]["hosted_strategies"] == [
        "agent:gekko:trend_following:BTC-USDT",
        "agent:gekko:trend_following:ETH-USDT",
    ]


async def test_one_agent_and_its_state_and_an_unknown_one_is_a_404(h: Harness) -> None:
    one = await h.client.get(f"{API}/gordo", headers=h.auth(V))
    assert one.status_code == 200, one.text
    assert one.json()["autonomy"].startswith("semi-autonomous")
    state = await h.client.get(f"{API}/gordo/state", headers=h.auth(V))
    assert state.json()["vote_weight"] == 2
    for path in ("/nobody", "/nobody/state", "/nobody/performance"):
        body = problem(await h.client.get(API + path, headers=h.auth(V)), 404)
        assert body["code"] == "unknown_agent"
        assert "spot, gordo, gekko" in body["detail"]


async def test_performance_adds_up_the_agents_own_fills(h: Harness) -> None:
    orders = (await h.client.get("/api/v1/orders?limit=1000", headers=h.auth(V))).json()
    gekko_fills = [
        o for o in orders if o["strategy_id"].startswith("agent:gekko:") and o["status"] == "filled"
    ]
    answer = await h.client.get(f"{API}/gekko/performance", headers=h.auth(V))
    assert answer.status_code == 200, answer.text
    perf = answer.json()
    assert perf["fills"] >= len(gekko_fills) > 0  # the replay made Gekko trade
    turnover = sum(Decimal(o["filled_qty"]) * Decimal(o["avg_px"]) for o in gekko_fills)
    assert Decimal(perf["turnover"]) == pytest.approx(turnover, rel=Decimal("1e-9"))
    net = Decimal(perf["realized_pnl"]) + Decimal(perf["unrealized_pnl"]) - Decimal(perf["fees"])
    assert Decimal(perf["net_pnl"]) == net


async def test_spot_explains_the_market_in_plain_words(h: Harness) -> None:
    answer = await h.client.get(
        f"{API}/spot/analysis", params={"instrument_id": BTC}, headers=h.auth(V)
    )
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["stance"] in {"bullish", "bearish", "neutral"}
    assert view["signals"], "300 bars are enough for the indicators"
    assert view["explanation"].startswith(f"BTC/USDT looks {view['stance']} overall")
    for signal in view["signals"]:  # every signal's words are part of the explanation
        assert signal["what"] in view["explanation"]
    unknown = await h.client.get(
        f"{API}/spot/analysis", params={"instrument_id": "DOGE/USDT@paper"}, headers=h.auth(V)
    )
    assert problem(unknown, 404)["code"] == "unknown_instrument"


async def test_asking_spot_for_a_proposal_gives_none(h: Harness) -> None:
    answer = await h.client.post(
        f"{API}/spot/propose", json={"instrument_id": BTC}, headers=h.auth(T)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"proposal": None}


async def test_asking_gekko_for_a_proposal_puts_it_to_the_vote(h: Harness) -> None:
    answer = await h.client.post(
        f"{API}/gekko/propose", json={"instrument_id": BTC, "decide": False}, headers=h.auth(T)
    )
    assert answer.status_code == 200, answer.text
    proposal = answer.json()["proposal"]
    assert proposal["proposer"] == "gekko"
    assert proposal["strategy"] == "analysis"
    assert proposal["status"] == "voting"
    analysis = await h.client.get(
        f"{API}/gekko/analysis", params={"instrument_id": BTC}, headers=h.auth(V)
    )
    assert proposal["rationale"] == analysis.json()["explanation"]
    stored = await h.client.get(f"{API}/proposals/{proposal['proposal_id']}", headers=h.auth(V))
    assert stored.json()["proposal_id"] == proposal["proposal_id"]
    assert "agents.propose" in await audit_actions(h)


# ---- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("agent", "budget", "cap"),
    [("gordo", "0.06", "0.05"), ("gekko", "0.021", "0.02"), ("spot", "0.01", "0")],
)
async def test_a_budget_over_the_hard_cap_is_refused_and_changes_nothing(
    h: Harness, agent: str, budget: str, cap: str
) -> None:
    before = (await h.client.get(f"{API}/{agent}", headers=h.auth(V))).json()["config"]
    answer = await h.client.put(
        f"{API}/{agent}/config", json={"risk_budget_pct": budget}, headers=h.auth(A)
    )
    body = problem(answer, 422)
    assert body["code"] == "invalid_agent_config"
    assert f"outside 0..{cap}" in body["detail"]
    after = (await h.client.get(f"{API}/{agent}", headers=h.auth(V))).json()["config"]
    assert after == before


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"risk_budget_pct": "-0.01"}, "outside 0..0.05"),
        (
            {"params": {"run": "trend_following"}, "strategies": ["mean_reversion"]},
            "not among its allowed",
        ),
        ({"params": {"run": "mean_reversion", "mean_reversion.window": "9"}}, "unknown parameter"),
        ({"strategies": ["no_such_strategy"], "params": {"run": "no_such_strategy"}}, "no plugin"),
        ({"instruments": ["DOGE/USDT@paper"]}, "unknown instrument"),
    ],
)
async def test_bad_configurations_are_422_and_the_old_one_stays_in_force(
    h: Harness, change: dict[str, Any], says: str
) -> None:
    before = (await h.client.get(f"{API}/gordo", headers=h.auth(V))).json()
    answer = await h.client.put(f"{API}/gordo/config", json=change, headers=h.auth(A))
    assert says in problem(answer, 422)["detail"]
    after = (await h.client.get(f"{API}/gordo", headers=h.auth(V))).json()
    assert after["config"] == before["config"]
    assert after["hosted_strategies"] == before["hosted_strategies"]
    stored = [r.event for r in h.platform.session.store.read("agents.config.gordo")]
    if stored:  # a restart would read the configuration in force, not the refused one
        last = stored[-1]
        assert (str(last.risk_budget_pct), dict(last.params)) == (
            before["config"]["risk_budget_pct"],
            before["config"]["params"],
        )


async def test_not_a_number_budget_is_a_validation_problem(h: Harness) -> None:
    for bad in ("lots", "NaN", "Infinity", True):
        answer = await h.client.put(
            f"{API}/gordo/config", json={"risk_budget_pct": bad}, headers=h.auth(A)
        )
        assert problem(answer, 422)["code"] == "validation_error", bad


async def test_a_budget_within_the_cap_applies_and_is_stored(h: Harness) -> None:
    change = {"risk_budget_pct": "0.04", "params": {"run": "mean_reversion,trend_following"}}
    answer = await h.client.put(f"{API}/gordo/config", json=change, headers=h.auth(A))
    assert answer.status_code == 200, answer.text
    agent = answer.json()
    assert agent["config"]["risk_budget_pct"] == "0.04"
    assert agent["config"]["running"] == ["mean_reversion", "trend_following"]
    assert "agent:gordo:trend_following:ETH-USDT" in agent["hosted_strategies"]
    store = h.platform.session.store
    stored = [r.event for r in store.read("agents.config.gordo")]
    assert stored[-1].risk_budget_pct == Decimal("0.04")
    assert stored[-1].changed_by == "admin"
    back = {"risk_budget_pct": "0.05", "params": {"run": "mean_reversion"}}
    assert (await h.client.put(f"{API}/gordo/config", json=back, headers=h.auth(A))).is_success
    assert "agents.configure" in await audit_actions(h)


async def test_enable_and_select(h: Harness, all_enabled: None) -> None:
    off = await h.client.post(f"{API}/gekko/enable", json={"enabled": False}, headers=h.auth(A))
    assert off.status_code == 200, off.text
    assert off.json()["enabled"] is False
    assert off.json()["hosted_strategies"] == []  # a disabled agent runs nothing
    chosen = await h.client.post(
        f"{API}/select", json={"agents": ["gekko", "spot"]}, headers=h.auth(A)
    )
    assert chosen.status_code == 200, chosen.text
    assert {a["agent_id"]: a["enabled"] for a in chosen.json()} == {
        "spot": True,
        "gordo": False,
        "gekko": True,
    }
    weights = h.platform.session.agents.coordinator.active_weights()
    assert weights == {"spot": 1, "gekko": 3}
    unknown = await h.client.post(
        f"{API}/select", json={"agents": ["gekko", "gecko"]}, headers=h.auth(A)
    )
    assert "gecko" in problem(unknown, 422)["detail"]
    still = (await h.client.get(API, headers=h.auth(V))).json()
    assert [a["enabled"] for a in still] == [True, False, True]  # nothing changed


async def test_only_admins_configure_enable_and_change_state(h: Harness) -> None:
    for role in (V, T):
        calls = [
            h.client.put(
                f"{API}/gordo/config", json={"risk_budget_pct": "0.01"}, headers=h.auth(role)
            ),
            h.client.post(f"{API}/gordo/enable", json={"enabled": False}, headers=h.auth(role)),
            h.client.post(f"{API}/select", json={"agents": []}, headers=h.auth(role)),
            h.client.patch(f"{API}/gordo/state", json={"veto": 0.9}, headers=h.auth(role)),
        ]
        for call in calls:
            assert problem(await call, 403)["code"] == "forbidden"
    config = (await h.client.get(f"{API}/gordo", headers=h.auth(V))).json()
    assert config["enabled"] is True
    assert config["state"]["veto"] == 0.3


async def test_state_changes_and_bad_values(h: Harness) -> None:
    answer = await h.client.patch(
        f"{API}/spot/state", json={"notes": "explain RSI first", "paused": True}, headers=h.auth(A)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["notes"] == "explain RSI first"
    assert answer.json()["paused"] is True
    paused = await h.client.post(
        f"{API}/spot/propose", json={"instrument_id": BTC}, headers=h.auth(T)
    )
    assert problem(paused, 409)["code"] == "agent_paused"
    bad = await h.client.patch(f"{API}/spot/state", json={"veto": 1.5}, headers=h.auth(A))
    assert "veto must be within 0..1" in problem(bad, 422)["detail"]
    unknown = await h.client.patch(f"{API}/spot/state", json={"mood": "sunny"}, headers=h.auth(A))
    assert problem(unknown, 422)["code"] == "validation_error"
    back = await h.client.patch(
        f"{API}/spot/state", json={"paused": False, "notes": ""}, headers=h.auth(A)
    )
    assert back.json()["paused"] is False
    assert back.json()["veto"] == 0.2


# ---- messages ------------------------------------------------------------------------------------
async def test_a_broadcast_is_listed_and_reaches_the_agents(h: Harness) -> None:
    received = h.platform.session.agents.agents["gekko"].messages_received
    body = {
        "message_type": "market_analysis",
        "payload": {"note": "CPI at 14:30"},
        "priority": "high",
    }
    sent = await h.client.post(f"{API}/messages", json=body, headers=h.auth(T))
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["sender"] == "user:tess"
    assert message["recipient"] is None
    assert message["priority"] == "high"
    listed = (await h.client.get(f"{API}/messages", params={"limit": 5}, headers=h.auth(V))).json()
    assert listed[0] == message
    for_gordo = await h.client.get(
        f"{API}/messages", params={"agent_id": "gordo"}, headers=h.auth(V)
    )
    assert message in for_gordo.json()  # a broadcast reaches every agent
    assert h.platform.session.agents.agents["gekko"].messages_received == received + 1


async def test_a_direct_message_and_who_may_send_what(h: Harness) -> None:
    direct = {
        "message_type": "coordination_request",
        "recipient": "gordo",
        "payload": {"q": "size?"},
    }
    sent = await h.client.post(f"{API}/messages", json=direct, headers=h.auth(T))
    assert sent.status_code == 201, sent.text
    spot_view = await h.client.get(
        f"{API}/messages", params={"agent_id": "spot"}, headers=h.auth(V)
    )
    assert sent.json()["message_id"] not in {m["message_id"] for m in spot_view.json()}
    as_agent = {**direct, "sender": "spot"}
    assert problem(await h.client.post(f"{API}/messages", json=as_agent, headers=h.auth(T)), 403)
    by_admin = await h.client.post(f"{API}/messages", json=as_agent, headers=h.auth(A))
    assert by_admin.json()["sender"] == "spot"
    system = {"message_type": "risk_alert", "payload": {}}
    assert problem(await h.client.post(f"{API}/messages", json=system, headers=h.auth(T)), 403)
    assert problem(await h.client.post(f"{API}/messages", json=direct, headers=h.auth(V)), 403)
    nobody = {**direct, "recipient": "nobody"}
    assert problem(await h.client.post(f"{API}/messages", json=nobody, headers=h.auth(T)), 422)
    bad_type = {**direct, "message_type": "gossip"}
    assert problem(await h.client.post(f"{API}/messages", json=bad_type, headers=h.auth(T)), 422)
    bad_priority = {**direct, "priority": "urgent"}
    assert problem(
        await h.client.post(f"{API}/messages", json=bad_priority, headers=h.auth(T)), 422
    )


async def test_messages_reach_the_agents_websocket_channel(h: Harness) -> None:
    async with live_server(h.app) as ws_base, connect(f"{ws_base}/ws") as ws:
        await ws.send(json.dumps({"op": "auth", "token": h.tokens[V]}))
        assert json.loads(await ws.recv())["ok"] is True
        await ws.send(json.dumps({"op": "subscribe", "topics": ["agents"]}))
        assert json.loads(await ws.recv())["op"] == "subscribed"
        body = {"message_type": "market_analysis", "payload": {"ws": True}}
        sent = (await h.client.post(f"{API}/messages", json=body, headers=h.auth(T))).json()
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["op"] == "event":
                break
        assert frame["topic"] == "agents"
        assert frame["type"] == "AgentMessage"
        assert frame["data"]["message_id"] == sent["message_id"]
        assert frame["data"]["payload"] == {"ws": True}


# ---- restart and no desk -------------------------------------------------------------------------
async def test_a_configuration_is_back_after_a_restart(tmp_path: Path) -> None:
    change = {"risk_budget_pct": "0.015", "strategies": ["trend_following"], "params": {"run": ""}}
    async with running_platform(tmp_path, bars=120) as first:
        answer = await first.client.put(f"{API}/gekko/config", json=change, headers=first.auth(A))
        assert answer.status_code == 200, answer.text
        configured = answer.json()["config"]
    platform = build_platform(load_settings(tmp_path, env=FAST_LIMITS), speed=5000, max_bars=120)
    try:
        async with platform.app.router.lifespan_context(platform.app):
            transport = httpx.ASGITransport(app=platform.app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                login = {"username": "tess", "password": PASSWORD}
                token = (await client.post("/api/v1/auth/login", json=login)).json()["access_token"]
                again = await client.get(
                    f"{API}/gekko", headers={"Authorization": f"Bearer {token}"}
                )
    finally:
        platform.session.close()
    assert again.status_code == 200, again.text
    assert again.json()["config"] == configured
    assert again.json()["config"]["risk_budget_pct"] == "0.015"
    assert again.json()["hosted_strategies"] == []
    limit = platform.session.kernel.risk.agent_limits["gekko"]
    assert limit.max_trade_pct == Decimal("0.015")


async def test_without_agents_the_api_answers_503(tmp_path: Path) -> None:
    async with running_platform(tmp_path, bars=80, env={"GREKKO_AGENTS__ENABLED": "[]"}) as bare:
        for path in ("", "/gordo", "/proposals", "/confirmations", "/messages"):
            answer = await bare.client.get(API + path, headers=bare.auth(V))
            assert problem(answer, 503)["code"] == "agents_not_running", path
