"""Consensus rounds through the real kernel: votes, weights, decisions, execution, audit trail."""

from __future__ import annotations

import time
from decimal import Decimal

import msgspec
import pytest
from agent_desk_support import IID, desk_run

from grekko.agents.coordinator import PROPOSAL_STREAM, ProposalError
from grekko.agents.ledger import ProposalLedger
from grekko.core.time import NS_PER_S
from grekko.domain.agents import Decision, MessageType, ProposalType, Vote
from grekko.domain.enums import OrderStatus
from grekko.domain.events import OrderInitialized, ProposalDecided, ProposalSubmitted, VoteCast


def test_an_agreed_gekko_buy_is_voted_executed_filled_and_broadcast() -> None:
    run = desk_run()
    record = run.desk.coordinator.submit(run.proposal("gekko", quantity="0.01"))
    assert record.decision is Decision.APPROVED
    assert (record.yes_weight, record.total_weight) == (6, 6)
    assert {v.agent_id: v.weight for v in record.votes} == {"spot": 1, "gordo": 2, "gekko": 3}
    assert all(v.reason for v in record.votes)
    assert record.status == "executed"
    [oid] = record.client_order_ids
    assert oid.startswith("O-agent:gekko:trend_following:BTC-USDT-")
    run.bars(1)  # the market order fills at the next bar's open
    order = run.kernel.cache.orders[oid]
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == Decimal("0.01")
    assert record.outcomes[oid].status == "filled"
    assert record.outcomes[oid].filled_qty == Decimal("0.01")
    for agent in run.desk.agents.values():
        assert any(r.get("client_order_id") == oid for r in agent.last_results)
    kinds = [type(r.event) for r in run.kernel.store.read(PROPOSAL_STREAM)]
    assert kinds[:5] == [ProposalSubmitted, VoteCast, VoteCast, VoteCast, ProposalDecided]


def test_sixty_percent_of_the_active_weight_is_needed() -> None:
    run = desk_run()
    c = run.desk.coordinator
    # gordo proposes (2); gekko says no (3); spot says yes (1): 3 of 6 = 50 % -> rejected
    p = c.submit(run.proposal("gordo"), decide=False)
    c.cast_vote(p.proposal_id, "gekko", False, "too late in the move")
    c.cast_vote(p.proposal_id, "spot", True, "fine by me")
    assert c.request_consensus(p.proposal_id).decision is Decision.REJECTED
    assert "50% of the active weight" in p.decision_reason
    # gekko proposes (3) with spot (1): 4 of 6 -> approved even though gordo says no
    q = c.submit(run.proposal("gekko"), decide=False)
    c.cast_vote(q.proposal_id, "gordo", False, "no")
    c.cast_vote(q.proposal_id, "spot", True, "yes")
    assert c.request_consensus(q.proposal_id).decision is Decision.APPROVED
    # with spot disabled the active weight is 5: gekko alone has exactly 60 % and passes
    c.set_enabled("spot", False)
    r = c.submit(run.proposal("gekko"), decide=False)
    c.cast_vote(r.proposal_id, "gordo", False, "no")
    decided = c.request_consensus(r.proposal_id)
    assert (decided.yes_weight, decided.total_weight) == (3, 5)
    assert decided.decision is Decision.APPROVED
    assert "spot" not in {v.agent_id for v in decided.votes}


def test_a_failing_or_slow_voter_counts_as_no() -> None:
    run = desk_run()
    c = run.desk.coordinator
    c.vote_timeout_s = 0.05
    gordo, spot = run.desk.agents["gordo"], run.desk.agents["spot"]

    def broken(_: object) -> Vote:
        raise RuntimeError("model server down")

    def slow(proposal: object) -> Vote:
        time.sleep(0.12)
        return type(spot).vote_on_proposal(spot, proposal)  # type: ignore[arg-type]

    gordo.vote_on_proposal = broken  # type: ignore[method-assign]
    spot.vote_on_proposal = slow  # type: ignore[method-assign]
    record = c.submit(run.proposal("gekko"))
    by_agent = {v.agent_id: v for v in record.votes}
    assert by_agent["gordo"].counted_as_no
    assert "failed" in by_agent["gordo"].reason
    assert by_agent["spot"].counted_as_no
    assert "within 50 ms" in by_agent["spot"].reason
    assert (record.yes_weight, record.total_weight) == (3, 6)
    assert record.decision is Decision.REJECTED
    assert record.client_order_ids == ()


def test_a_vote_after_the_window_is_counted_as_no() -> None:
    run = desk_run()
    c = run.desk.coordinator
    c.vote_timeout_s = 0.5
    p = c.submit(run.proposal("gordo"), decide=False)
    clock = run.kernel.clock
    clock.set_time(clock.timestamp_ns() + NS_PER_S)  # type: ignore[attr-defined]
    vote = c.cast_vote(p.proposal_id, "gekko", True, "yes")
    assert vote.counted_as_no
    assert not vote.approve
    assert vote.reason.startswith("late")
    with pytest.raises(ProposalError, match="voted on"):
        c.cast_vote(p.proposal_id, "gekko", True, "again")


def test_a_quantity_beyond_the_budget_is_cut_to_fit() -> None:
    run = desk_run()
    equity = run.kernel.portfolio.equity()
    price = run.kernel.cache.last_price(IID)
    assert price is not None
    record = run.desk.coordinator.submit(run.proposal("gekko", quantity="1"))
    assert record.decision is Decision.MODIFIED
    approved = record.approved_quantity
    assert approved is not None
    assert 0 < approved < 1
    assert approved * price <= equity * Decimal("0.02")
    assert (approved + Decimal("0.00000001")) * price > equity * Decimal("0.02")
    [oid] = record.client_order_ids
    assert run.kernel.cache.orders[oid].quantity == approved


def test_gordo_waits_for_the_user_and_expires_or_executes() -> None:
    run = desk_run()
    c = run.desk.coordinator
    first = c.submit(run.proposal("gordo"))
    assert first.status == "awaiting_confirmation"
    assert first.client_order_ids == ()
    assert first.proposal_id in c.ledger.pending
    gordo = run.desk.agents["gordo"]
    assert gordo.messages_received > 0
    second = c.submit(run.proposal("gordo"))
    c.confirm(second.proposal_id, "alice")
    assert second.status == "executed"
    assert second.confirmed_by == "alice"
    third = c.submit(run.proposal("gordo"))
    c.decline(third.proposal_id, "alice", "not now")
    assert third.status == "declined"
    assert third.client_order_ids == ()
    clock = run.kernel.clock
    clock.set_time(clock.timestamp_ns() + c.confirmation_ttl_ns + 1)  # type: ignore[attr-defined]
    assert c.expire_due() == [first.proposal_id]
    assert first.status == "expired"
    with pytest.raises(ProposalError, match="not awaiting confirmation"):
        c.confirm(first.proposal_id, "alice")


def test_autonomy_limits_are_decided_before_execution() -> None:
    run = desk_run()
    c = run.desk.coordinator
    rogue_strategy = c.submit(run.proposal("gekko", strategy="martingale"))
    assert rogue_strategy.decision is Decision.REJECTED
    assert "pre-approved" in rogue_strategy.decision_reason
    spot_buy = c.submit(run.proposal("spot"))
    assert spot_buy.decision is Decision.REJECTED
    assert "never trades" in spot_buy.decision_reason
    hold = c.submit(run.proposal("spot", ProposalType.HOLD, "0"))
    assert hold.decision is Decision.APPROVED
    assert hold.client_order_ids == ()
    with pytest.raises(ProposalError, match="quantity must be positive"):
        c.submit(run.proposal("gekko", quantity="0"))
    with pytest.raises(ProposalError, match="unknown agent"):
        c.submit(run.proposal("gordon"))


def test_the_audit_trail_is_queryable_and_rebuilds_from_the_store() -> None:
    run = desk_run()
    c = run.desk.coordinator
    c.submit(run.proposal("gekko"))
    c.submit(run.proposal("gekko", strategy="martingale"))
    c.submit(run.proposal("gordo"))
    run.bars(2)
    assert len(c.ledger.query(agent_id="gekko")) == 3  # gekko voted on gordo's too
    assert [r.proposal.proposer for r in c.ledger.query(decision="rejected")] == ["gekko"]
    assert len(c.ledger.query(status="awaiting_confirmation")) == 1
    assert c.ledger.query(instrument_id="ETH/USDT@paper") == []
    rebuilt = ProposalLedger()
    for recorded in run.kernel.store.read(PROPOSAL_STREAM):
        rebuilt.apply(recorded.event)
    assert [r.as_dict() for r in rebuilt.records.values()] == [
        r.as_dict() for r in c.ledger.records.values()
    ]
    messages = run.desk.messenger.messages_for("gordo")
    assert {m.message_type for m in messages} >= {
        MessageType.TRADING_PROPOSAL,
        MessageType.EXECUTION_RESULT,
        MessageType.COORDINATION_REQUEST,
    }


def test_hosted_strategies_propose_instead_of_trading() -> None:
    run = desk_run(agent_params={"gordo": {"run": ""}, "gekko": {"quantity": "0.01"}}, warm_bars=0)
    run.bars(1500)
    ledger = run.desk.coordinator.ledger
    assert ledger.records, "trend following proposed nothing in 1,500 bars"
    inits = [r.event for r in run.kernel.store.read_all() if type(r.event) is OrderInitialized]
    proposed = {oid for rec in ledger.records.values() for oid in rec.client_order_ids}
    for init in inits:
        assert init.strategy_id == "agent:gekko:trend_following:BTC-USDT"
        # every order came from an approved proposal, except the reduce-only protective stops
        assert init.client_order_id in proposed or init.reduce_only
    assert all(r.proposal.rationale for r in ledger.records.values())


def test_an_expired_proposal_is_rejected_and_cannot_be_confirmed() -> None:
    run = desk_run()
    c = run.desk.coordinator
    now = run.kernel.clock.timestamp_ns()
    stale = msgspec.structs.replace(run.proposal("gekko"), expires_ns=now - 1)
    record = c.submit(stale)
    assert record.decision is Decision.REJECTED
    assert record.decision_reason == "the proposal expired before it was decided"
    waiting = c.submit(msgspec.structs.replace(run.proposal("gordo"), expires_ns=now + NS_PER_S))
    assert waiting.status == "awaiting_confirmation"
    run.bars(1)  # a minute of market time later the proposal itself has expired
    with pytest.raises(ProposalError, match="expired"):
        c.confirm(waiting.proposal_id, "alice")
    assert waiting.status == "expired"
    assert waiting.client_order_ids == ()


def test_a_hosted_strategy_does_not_ask_twice_while_the_user_has_not_answered() -> None:
    run = desk_run(agent_params={"gordo": {"quantity": "0.01"}, "gekko": {"run": ""}}, warm_bars=0)
    run.desk.coordinator.confirmation_ttl_ns = 10**18  # the user takes their time
    run.bars(2000)
    ledger = run.desk.coordinator.ledger
    gordo = [r for r in ledger.records.values() if r.proposal.proposer == "gordo"]
    assert gordo, "mean reversion proposed nothing in 2,000 bars"
    assert len(ledger.pending) == 1  # later signals wait for the answer to the first
    [pending] = ledger.pending.values()
    run.desk.coordinator.confirm(pending.proposal_id, "alice")
    assert not ledger.pending
