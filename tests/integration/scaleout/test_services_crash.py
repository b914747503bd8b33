"""The platform as seven processes on real PostgreSQL and Redis (`grekko serve ...`): gateway,
ingest, risk, and two partitions each of agents and execution (BTC/USDT in one, ETH/USDT in the
other), plus a standby process for BTC/USDT's execution partition. The replay trades; the active
execution process of BTC/USDT is killed with SIGKILL in the middle, the standby takes its lease
and its work over, and the killed one comes back as the standby. Then: every order asked for is in the event log exactly once, none filled
twice, and every process's positions equal the ones the event log adds up to.

Without PostgreSQL or Redis on this machine the test skips and says which is missing
(`docker compose -f deploy/docker-compose.yml up -d postgres redis` provides both).
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import redis

from integration.adapters.redis.redis_support import reachable_redis_url
from integration.scaleout.scaleout_support import (
    PROCESSES,
    STANDBY,
    Cluster,
    TopicListener,
    fold_store,
    own_databases,
)
from postgres_support import reachable_postgres_url

BARS = 1200
SPEED = 120.0  # bars a second: the replay takes 10 s
BTC, ETH = "BTC/USDT@paper", "ETH/USDT@paper"
KILLED = "execution-1"  # BTC/USDT's partition
TERMINAL = {"OrderFilled", "OrderDenied", "OrderCanceled", "OrderRejected", "OrderExpired"}


def _wait(what: str, check: Any, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _requested(redis_url: str) -> list[str]:
    """Every order the agents and the gateway asked risk for, from the stream itself."""
    client = redis.Redis.from_url(redis_url)
    try:
        ids = []
        for _, fields in client.xrange("grekko.orders.requested"):
            if fields[b"type"] == b"SubmitOrder":
                ids.append(fields[b"event_id"].decode())
        return ids
    finally:
        client.close()


def _btc(orders: dict[str, Any]) -> list[str]:
    return [coid for coid in orders if "BTC" in coid]


def _positions(state: dict[str, Any]) -> dict[str, Decimal]:
    return {
        iid: Decimal(p["quantity"])
        for iid, p in state["positions"].items()
        if Decimal(p["quantity"]) != 0
    }


def test_execution_killed_mid_flow_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    postgres_url, redis_url = reachable_postgres_url(), reachable_redis_url()
    with own_databases(postgres_url, redis_url) as (database_url, redis_db):
        cluster = Cluster(tmp_path / "data", database_url, redis_db)
        try:
            for service in PROCESSES[:-1]:
                cluster.start(service)
            listener = TopicListener(cluster.url("gateway"), _login(cluster), "agents")
            cluster.start("ingest", "--speed", str(SPEED), "--max-bars", str(BARS))
            cluster.start(STANDBY, standby=True)
            assert cluster.ready(STANDBY), "a standby is ready to take over (rollouts go on)"
            assert not cluster.ready(STANDBY, "/active"), "one process per partition works"
            _wait("BTC orders", lambda: len(_btc(cluster.state(KILLED)["orders"])) >= 4)
            cluster.kill(KILLED)
            manual = _manual_order(cluster)  # while its execution is down: queued, not lost
            cluster.wait_ready(STANDBY, timeout_s=30, path="/active")  # it took the lease over
            cluster.start(KILLED, standby=True)  # back, and now the standby
            assert not cluster.ready(KILLED, "/active")
            _wait("the replay", lambda: cluster.state("ingest").get("published") == BARS)
            _wait(
                "every backlog drained",
                lambda: all(
                    cluster.backlog(s) == 0 for s in (*PROCESSES[:-2], STANDBY) if s != KILLED
                ),
            )
            time.sleep(2.0)  # the last notifications reach the gateway
            states = {s: cluster.state(s) for s in (*PROCESSES[:-2], STANDBY) if s != KILLED}
            gateway = _gateway_positions(cluster)
            agents, proposals = (
                _through_gateway(cluster, "/agents"),
                _through_gateway(cluster, "/agents/proposals"),
            )
            taken_over = cluster.handled(STANDBY)
            agent_frames = listener.stop()
        finally:
            cluster.stop_all()
        log = fold_store(database_url)
        events, log_positions = log.events, log.positions
        requested = _requested(redis_db)

    assert taken_over > 0, "the standby took the partition's work over"
    # the agents' API answers through the gateway, from the agents process
    assert sorted(a["agent_id"] for a in agents) == ["gekko", "gordo", "spot"]
    assert proposals, "the agents' proposals are listed through the gateway"
    # and what they say to each other reaches the gateway's WebSocket clients as it happens
    assert {f["type"] for f in agent_frames} == {"AgentMessage"}
    assert {f["data"]["sender"] for f in agent_frames} & {"coordinator", "spot", "gekko"}
    assert manual in requested
    assert len(requested) >= 5
    assert set(requested) <= set(events), "an order asked for is missing from the event log"
    for coid in set(requested):
        kinds = Counter(events[coid])
        assert kinds["OrderInitialized"] == 1, (coid, events[coid])
        assert kinds["OrderSubmitted"] <= 1, (coid, events[coid])
        assert kinds["OrderAccepted"] <= 1, (coid, events[coid])
        assert kinds["OrderFilled"] <= 1, (coid, events[coid])  # market orders fill once
        assert TERMINAL & set(kinds), f"{coid} never settled: {events[coid]}"
    filled = [c for c in requested if "OrderFilled" in events[c]]
    assert filled, "something traded"
    # Gekko trades from the agents process under the caps it shared with risk over the bus
    agent_orders = [c for c in requested if log.strategies[c].startswith("agent:")]
    assert agent_orders, "the agents proposed and executed nothing"
    assert not [r for r in log.denials.values() if "no risk budget registered" in r]
    expected = {k: v for k, v in log_positions.items() if v}
    assert {log.instruments[c] for c in filled} == {BTC, ETH}, "both partitions traded"
    # each execution partition holds its own instrument's position
    zero = Decimal(0)
    assert _positions(states[STANDBY]).get(BTC, zero) == expected.get(BTC, zero)
    assert _positions(states["execution-0"]).get(ETH, zero) == expected.get(ETH, zero)
    for service in ("risk", "agents-0", "agents-1"):
        assert _positions(states[service]) == expected, service
    # the cash is one account's: every process, execution included, sees every partition's fills
    balances = {s: state["balances"] for s, state in states.items() if "balances" in state}
    assert len(balances) == 5, sorted(balances)
    assert all(b == balances["risk"] for b in balances.values()), balances
    # and every fill applied in the log's order: the same average prices and realized PnL
    held = {s: state["positions"] for s, state in states.items()}
    assert all(p == held["risk"] for p in held.values()), held
    assert gateway == expected


def _manual_order(cluster: Cluster) -> str:
    token = _login(cluster)
    answer = httpx.post(
        cluster.url("gateway") + "/api/v1/orders",
        json={
            "instrument_id": BTC,
            "side": "buy",
            "type": "market",
            "quantity": "0.02",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return str(answer.json()["client_order_id"])


def _login(cluster: Cluster) -> str:
    answer = httpx.post(
        cluster.url("gateway") + "/api/v1/auth/login",
        json={"username": "admin", "password": cluster.admin_password},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _through_gateway(cluster: Cluster, path: str) -> Any:
    answer = httpx.get(
        cluster.url("gateway") + "/api/v1" + path,
        headers={"Authorization": f"Bearer {_login(cluster)}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _gateway_positions(cluster: Cluster) -> dict[str, Decimal]:
    token = _login(cluster)
    answer = httpx.get(
        cluster.url("gateway") + "/api/v1/positions",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {
        p["instrument_id"]: Decimal(p["quantity"])
        for p in answer.json()
        if Decimal(p["quantity"]) != 0
    }
