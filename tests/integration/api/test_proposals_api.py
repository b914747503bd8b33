"""Proposals through the API, against the whole platform: votes, consensus, the user's
confirmation of Gordo's trades, the autonomy tiers, and the audit query.

One platform per module; its 300 bundled bars are replayed to the end first, so the market
clock stands still (a vote cast through the API is inside the vote window) and the agents see
the same market on every run: BTC and ETH bullish, 100 000 USDT of starting cash.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from platform_support import Harness, running_platform

from grekko.api.principal import Role
from grekko.core.time import ns_to_iso

pytestmark = pytest.mark.asyncio(loop_scope="module")
API = "/api/v1/agents"
BTC, ETH = "BTC/USDT@paper", "ETH/USDT@paper"
V, T, A = Role.VIEWER, Role.TRADER, Role.ADMIN
Proposal = dict[str, Any]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def h(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with running_platform(tmp_path_factory.mktemp("proposals"), bars=300) as harness:
        session = harness.platform.session
        for _ in range(3000):
            if session.progress().phase == "finished":
                break
            await asyncio.sleep(0.01)
        assert session.progress().phase == "finished"
        yield harness


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    return body


async def propose(h: Harness, proposer: str, quantity: str = "0.001", **fields: Any) -> Proposal:
    body = {
        "proposer": proposer,
        "proposal_type": "buy",
        "instrument_id": BTC,
        "quantity": quantity,
    }
    answer = await h.client.post(f"{API}/proposals", json={**body, **fields}, headers=h.auth(T))
    assert answer.status_code == 201, answer.text
    proposal: Proposal = answer.json()
    return proposal


async def order_ids(h: Harness) -> set[str]:
    answer = await h.client.get("/api/v1/orders", params={"limit": 1000}, headers=h.auth(V))
    return {o["client_order_id"] for o in answer.json()}


async def act(
    h: Harness, proposal_id: str, action: str, role: Role = T, **body: Any
) -> httpx.Response:
    return await h.client.post(
        f"{API}/proposals/{proposal_id}/{action}", json=body or None, headers=h.auth(role)
    )


# ---- Gordo: every trade waits for the user -----------------------------------------------------
async def test_a_gordo_trade_waits_for_confirmation_then_executes(h: Harness) -> None:
    proposal = await propose(h, "gordo", rationale="a small starter position")
    assert proposal["status"] == "awaiting_confirmation"
    assert proposal["decision"] == "approved"
    assert proposal["approved_quantity"] == "0.001"
    assert proposal["risk_assessment"].startswith("notional ")
    votes = {v["agent_id"]: v for v in proposal["votes"]}
    assert {k: v["weight"] for k, v in votes.items()} == {"spot": 1, "gordo": 2, "gekko": 3}
    assert all(v["reason"].strip() for v in votes.values())
    assert votes["gordo"]["reason"] == "my own proposal: a small starter position"
    assert proposal["yes_weight"] == sum(v["weight"] for v in votes.values() if v["approve"])

    pending = (await h.client.get(f"{API}/confirmations", headers=h.auth(V))).json()
    mine = next(p for p in pending if p["proposal_id"] == proposal["proposal_id"])
    assert 0 < mine["seconds_left"] <= 120

    pid = proposal["proposal_id"]
    assert problem(await act(h, pid, "confirm", V), 403)["code"] == "forbidden"
    before = await order_ids(h)
    done = await act(h, pid, "confirm")
    assert done.status_code == 200, done.text
    executed = done.json()
    assert executed["status"] == "executed"
    assert executed["confirmed_by"] == "user:tess"
    [oid] = executed["client_order_ids"]
    assert (await order_ids(h)) - before == {oid}
    orders = (
        await h.client.get("/api/v1/orders", params={"limit": 1000}, headers=h.auth(V))
    ).json()
    order = next(o for o in orders if o["client_order_id"] == oid)
    assert (order["strategy_id"], order["side"], order["quantity"]) == (
        "agent:gordo:manual:BTC-USDT",
        "buy",
        "0.001",
    )
    left = (await h.client.get(f"{API}/confirmations", headers=h.auth(V))).json()
    assert pid not in {p["proposal_id"] for p in left}
    assert problem(await act(h, pid, "confirm"), 409)["code"] == "proposal_conflict"


async def test_a_rejected_trade_places_no_order(h: Harness) -> None:
    proposal = await propose(h, "gordo", "0.002")
    before = await order_ids(h)
    answer = await act(h, proposal["proposal_id"], "reject", reason="not before the Fed")
    assert answer.status_code == 200, answer.text
    declined = answer.json()
    assert declined["status"] == "declined"
    assert declined["declined"] == "not before the Fed"
    assert declined["client_order_ids"] == []
    assert await order_ids(h) == before
    again = await act(h, proposal["proposal_id"], "confirm")
    assert "not awaiting confirmation" in problem(again, 409)["detail"]


# ---- the other tiers -------------------------------------------------------------------------------
async def test_gekko_trades_only_its_pre_approved_strategies(h: Harness) -> None:
    before = await order_ids(h)
    manual = await propose(h, "gekko", "0.001")  # strategy defaults to "manual"
    assert manual["status"] == "rejected"
    assert "'manual' is not among gekko's pre-approved strategies" in manual["decision_reason"]
    assert await order_ids(h) == before
    approved = await propose(h, "gekko", "0.001", strategy="trend_following")
    assert approved["status"] == "executed"  # autonomous: no confirmation asked
    assert approved["confirmed_by"] is None
    assert (await order_ids(h)) - before == set(approved["client_order_ids"])


async def test_spot_never_trades(h: Harness) -> None:
    before = await order_ids(h)
    spot = await propose(h, "spot", "0.001")
    assert spot["status"] == "rejected"
    assert spot["decision_reason"] == "spot is read-only: it never trades"
    assert await order_ids(h) == before


async def test_a_budget_cut_is_a_modified_decision(h: Harness) -> None:
    big = await propose(h, "gordo", "1")  # ~57 000 USDT, over 5 % of 100 000
    assert big["decision"] == "modified"
    approved = Decimal(big["approved_quantity"])
    assert Decimal(0) < approved < 1
    assert f"cut from 1 to {big['approved_quantity']}" in big["decision_reason"]
    assert (await act(h, big["proposal_id"], "reject")).json()["declined"] == "rejected by the user"


async def test_a_complex_proposal_keeps_its_legs(h: Harness) -> None:
    legs = [
        {"instrument_id": BTC, "side": "buy", "quantity": "0.001"},
        {
            "instrument_id": ETH,
            "side": "buy",
            "quantity": "0.01",
            "order_type": "limit",
            "price": "2000.5",
        },
    ]
    pair = await propose(h, "gordo", "0", proposal_type="complex", instrument_id=None, legs=legs)
    assert pair["instrument_id"] == BTC
    assert [(leg["instrument_id"], leg["quantity"], leg["price"]) for leg in pair["legs"]] == [
        (BTC, "0.001", None),
        (ETH, "0.01", "2000.5"),
    ]
    assert pair["status"] == "awaiting_confirmation"
    assert (await act(h, pair["proposal_id"], "reject")).json()["status"] == "declined"


# ---- an open vote -------------------------------------------------------------------------------------
async def test_an_open_proposal_takes_votes_then_consensus(h: Harness) -> None:
    proposal = await propose(h, "gordo", decide=False)
    pid = proposal["proposal_id"]
    assert (proposal["status"], proposal["votes"], proposal["decision"]) == ("voting", [], None)
    vote = await act(h, pid, "votes", agent_id="spot", approve=False, reason="RSI is stretched")
    assert vote.status_code == 201, vote.text
    assert vote.json() == {
        "agent_id": "spot",
        "approve": False,
        "weight": 1,
        "reason": "RSI is stretched",
        "counted_as_no": False,
    }
    twice = await act(h, pid, "votes", agent_id="spot", approve=True, reason="changed my mind")
    assert "has voted" in problem(twice, 409)["detail"]
    nobody = await act(h, pid, "votes", agent_id="nobody", approve=True, reason="x")
    assert problem(nobody, 422)["code"] == "unknown_agent"
    assert problem(await act(h, pid, "votes", V, agent_id="gekko", approve=True, reason="x"), 403)

    decided = await act(h, pid, "consensus")
    assert decided.status_code == 200, decided.text
    record = decided.json()
    votes = {v["agent_id"]: (v["approve"], v["reason"]) for v in record["votes"]}
    assert votes["spot"] == (False, "RSI is stretched")
    assert set(votes) == {"spot", "gordo", "gekko"}  # the others were asked at consensus
    expected_yes = sum(v["weight"] for v in record["votes"] if v["approve"])
    assert (record["yes_weight"], record["total_weight"]) == (expected_yes, 6)
    # Gordo backs its own proposal and Gekko a buy in this bullish market: 5 of 6 >= 60 %
    assert (expected_yes, record["status"]) == (5, "awaiting_confirmation")
    assert problem(await act(h, pid, "consensus"), 409)["code"] == "proposal_conflict"
    late = await act(h, pid, "votes", agent_id="gekko", approve=True, reason="late")
    assert "voting is closed" in problem(late, 409)["detail"]


async def test_unknown_proposals_are_404(h: Harness) -> None:
    get = await h.client.get(f"{API}/proposals/P-999999", headers=h.auth(V))
    assert problem(get, 404)["code"] == "unknown_proposal"
    vote = {"agent_id": "spot", "approve": True, "reason": "x"}
    for action, body in (("confirm", {}), ("reject", {}), ("consensus", {}), ("votes", vote)):
        answer = await act(h, "P-999999", action, T, **body)
        assert problem(answer, 404)["code"] == "unknown_proposal"


# ---- the audit query ------------------------------------------------------------------------------
async def listed(h: Harness, **query: Any) -> list[Proposal]:
    answer = await h.client.get(
        f"{API}/proposals", params={"limit": 1000, **query}, headers=h.auth(V)
    )
    assert answer.status_code == 200, answer.text
    found: list[Proposal] = answer.json()
    return found


def involves(agent: str) -> Callable[[Proposal], bool]:
    return lambda p: p["proposer"] == agent or any(v["agent_id"] == agent for v in p["votes"])


async def test_the_audit_query_filters_by_agent_decision_instrument_status_and_time(
    h: Harness,
) -> None:
    everyone = {"agents": ["spot", "gordo", "gekko"]}
    await h.client.post(f"{API}/select", json={"agents": ["gordo", "gekko"]}, headers=h.auth(A))
    try:
        without_spot = await propose(h, "gordo", "0.01", instrument_id=ETH)
    finally:
        await h.client.post(f"{API}/select", json=everyone, headers=h.auth(A))
    spot_made = await propose(h, "spot", "0.001")
    rejected = await propose(h, "gekko", "0.001", instrument_id=ETH)
    every = await listed(h)
    ids = [p["proposal_id"] for p in every]
    assert {without_spot["proposal_id"], spot_made["proposal_id"], rejected["proposal_id"]} <= set(
        ids
    )
    assert ids == sorted(ids, key=lambda i: int(i[2:]), reverse=True)  # newest first

    cases: list[tuple[dict[str, Any], Callable[[Proposal], bool]]] = [
        ({"agent_id": "spot"}, involves("spot")),
        ({"agent_id": "gekko"}, involves("gekko")),
        ({"decision": "rejected"}, lambda p: p["decision"] == "rejected"),
        ({"decision": "approved"}, lambda p: p["decision"] == "approved"),
        ({"instrument_id": ETH}, lambda p: p["instrument_id"] == ETH),
        ({"status": "awaiting_confirmation"}, lambda p: p["status"] == "awaiting_confirmation"),
        ({"instrument_id": ETH, "decision": "rejected"},
         lambda p: p["instrument_id"] == ETH and p["decision"] == "rejected"),
    ]  # fmt: skip
    for query, keep in cases:
        expected = [p["proposal_id"] for p in every if keep(p)]
        assert [p["proposal_id"] for p in await listed(h, **query)] == expected, query
    assert without_spot["proposal_id"] not in {
        p["proposal_id"] for p in await listed(h, agent_id="spot")
    }
    eth_rejected = await listed(h, instrument_id=ETH, decision="rejected")
    assert rejected["proposal_id"] in {p["proposal_id"] for p in eth_rejected}

    first = min(p["submitted_ns"] for p in every)
    assert await listed(h, since=str(max(p["submitted_ns"] for p in every) + 1)) == []
    at_first = [p["proposal_id"] for p in every if p["submitted_ns"] == first]
    assert [p["proposal_id"] for p in await listed(h, until=ns_to_iso(first))] == at_first
    assert [p["proposal_id"] for p in await listed(h, since=str(first))] == ids
    assert [p["proposal_id"] for p in await listed(h, limit=2)] == ids[:2]
    bad = await h.client.get(f"{API}/proposals", params={"since": "yesterday"}, headers=h.auth(V))
    assert problem(bad, 422)["code"] == "invalid_time"
    too_many = await h.client.get(f"{API}/proposals", params={"limit": 1001}, headers=h.auth(V))
    assert problem(too_many, 422)["code"] == "validation_error"


# ---- the boundary ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"quantity": "abc"}, "validation_error"),
        ({"quantity": "NaN"}, "validation_error"),
        ({"quantity": "-0.001"}, "validation_error"),
        ({"quantity": "0.000000001"}, "not_a_multiple"),  # BTC trades in 1e-8 steps
        ({"quantity": "0"}, "invalid_proposal"),
        ({"order_type": "limit"}, "invalid_proposal"),  # a limit proposal needs a price_target
        ({"order_type": "limit", "price_target": "50000.001"}, "not_a_multiple"),
        ({"proposer": "nobody"}, "unknown_agent"),
        ({"instrument_id": "DOGE/USDT@paper"}, "unknown_instrument"),
        ({"legs": [{"instrument_id": BTC, "side": "buy", "quantity": "1"}]}, "unexpected_legs"),
        ({"surprise": 1}, "validation_error"),
    ],
)
async def test_bad_proposals_are_422(h: Harness, change: dict[str, Any], code: str) -> None:
    body = {"proposer": "gordo", "proposal_type": "buy", "instrument_id": BTC, "quantity": "0.001"}
    answer = await h.client.post(f"{API}/proposals", json={**body, **change}, headers=h.auth(T))
    assert problem(answer, 422)["code"] == code


def quantities() -> list[Decimal]:
    """Hypothesis draws the quantities; each one then goes through the real API."""
    drawn: list[Decimal] = []

    @given(st.integers(1, 500_000_000), st.integers(0, 9))
    @settings(max_examples=25, database=None, deadline=None, derandomize=True)
    def draw(steps: int, tenths: int) -> None:  # whole 1e-8 steps, and some tenths of one
        drawn.append(steps * Decimal("1e-8") + tenths * Decimal("1e-9"))

    draw()
    return drawn


async def test_quantities_are_kept_exactly_or_refused(h: Harness) -> None:
    step = Decimal("0.00000001")
    drawn = quantities()
    assert any(q % step for q in drawn)
    assert any(not q % step for q in drawn)
    for q in drawn:
        body = {"proposer": "gekko", "proposal_type": "sell", "instrument_id": BTC,
                "quantity": format(q, "f"), "decide": False}  # fmt: skip
        answer = await h.client.post(f"{API}/proposals", json=body, headers=h.auth(T))
        if q % step:
            assert problem(answer, 422)["code"] == "not_a_multiple", q
        else:
            assert answer.status_code == 201, answer.text
            assert Decimal(answer.json()["quantity"]) == q
