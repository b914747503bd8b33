"""The consensus arithmetic and the proposal rules, as properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.domain.agents import (
    APPROVAL_SHARE,
    PROFILES,
    AgentType,
    OrderType,
    ProposalLeg,
    ProposalType,
    TradingProposal,
    Vote,
    agent_strategy_id,
    check_proposal,
    fit_to_budget,
    parse_agent_strategy_id,
    tally,
)
from grekko.domain.enums import OrderSide

WEIGHTS = {"spot": 1, "gordo": 2, "gekko": 3}


def vote(agent: str, approve: bool, *, counted_as_no: bool = False) -> Vote:
    return Vote(
        proposal_id="P-1",
        agent_id=agent,
        approve=approve,
        weight=WEIGHTS.get(agent, 1),
        reason="r",
        counted_as_no=counted_as_no,
    )


def test_profiles_match_the_autonomy_table() -> None:
    table = {t: (p.vote_weight, p.max_trade_pct, p.needs_confirmation) for t, p in PROFILES.items()}
    assert table == {
        AgentType.SPOT: (1, Decimal(0), False),
        AgentType.GORDO: (2, Decimal("0.05"), True),
        AgentType.GEKKO: (3, Decimal("0.02"), False),
    }
    assert PROFILES[AgentType.GEKKO].restricted_to_approved_strategies


@pytest.mark.parametrize(
    ("yes", "active", "approved"),
    [
        ({"gekko", "spot"}, WEIGHTS, True),  # 4/6
        ({"gekko"}, WEIGHTS, False),  # 3/6
        ({"gordo", "spot"}, WEIGHTS, False),  # 3/6
        ({"gekko"}, {"gordo": 2, "gekko": 3}, True),  # 3/5 is exactly 60 %
        ({"gordo"}, {"gordo": 2, "gekko": 3}, False),  # 2/5
        (set(), {}, False),  # nobody active: nothing passes
    ],
)
def test_threshold_cases(yes: set[str], active: dict[str, int], approved: bool) -> None:
    votes = [vote(a, a in yes) for a in WEIGHTS]
    assert tally(votes, active, APPROVAL_SHARE).approved is approved


@given(
    st.dictionaries(st.sampled_from(list(WEIGHTS)), st.booleans()),
    st.sets(st.sampled_from(list(WEIGHTS)), min_size=1),
)
def test_missing_votes_count_as_no_and_inactive_votes_do_not_count(
    cast: dict[str, bool], active_ids: set[str]
) -> None:
    active = {a: WEIGHTS[a] for a in active_ids}
    result = tally([vote(a, ok) for a, ok in cast.items()], active, APPROVAL_SHARE)
    expected_yes = sum(w for a, w in active.items() if cast.get(a, False))
    assert result.yes_weight == expected_yes
    assert result.total_weight == sum(active.values())
    assert result.approved == (Decimal(expected_yes) >= APPROVAL_SHARE * result.total_weight)
    # turning one more active vote into yes never turns an approval into a rejection
    flipped = {**cast, next(iter(active_ids)): True}
    assert (
        tally([vote(a, ok) for a, ok in flipped.items()], active, APPROVAL_SHARE).approved
        >= result.approved
    )


def test_a_vote_counted_as_no_is_no_even_if_it_says_yes() -> None:
    votes = [vote("gekko", True, counted_as_no=True), vote("spot", True)]
    assert tally(votes, WEIGHTS, APPROVAL_SHARE).yes_weight == 1


@given(
    qty=st.decimals(min_value="0.00000001", max_value="1000", places=8),
    price=st.decimals(min_value="0.01", max_value="100000", places=2),
    equity=st.decimals(min_value="1", max_value="10000000", places=2),
    pct=st.sampled_from([Decimal("0.02"), Decimal("0.05"), Decimal("0.001")]),
)
def test_fit_to_budget_is_the_largest_step_multiple_within_the_budget(
    qty: Decimal, price: Decimal, equity: Decimal, pct: Decimal
) -> None:
    step = Decimal("0.00000001")
    fitted = fit_to_budget(qty, price, equity, pct, step)
    assert 0 <= fitted <= qty
    assert fitted * price <= equity * pct
    assert fitted % step == 0
    if fitted < qty:
        assert (fitted + step) * price > equity * pct


def test_proposal_rules() -> None:
    base = {"proposal_id": "P-1", "proposer": "gekko", "instrument_id": "BTC/USDT@paper"}
    ok = TradingProposal(**base, proposal_type=ProposalType.BUY, quantity=Decimal(1))
    assert check_proposal(ok) is None
    assert ok.orders()[0].side is OrderSide.BUY
    limit = TradingProposal(
        **base, proposal_type=ProposalType.SELL, quantity=Decimal(1), order_type=OrderType.LIMIT
    )
    assert check_proposal(limit) == "a limit proposal needs a price_target"
    empty = TradingProposal(**base, proposal_type=ProposalType.COMPLEX, quantity=Decimal(0))
    assert check_proposal(empty) == "a complex proposal needs at least one leg"
    leg = ProposalLeg(instrument_id="ETH/USDT@paper", side=OrderSide.SELL, quantity=Decimal(2))
    pair = TradingProposal(
        **base, proposal_type=ProposalType.COMPLEX, quantity=Decimal(0), legs=(leg, leg)
    )
    assert check_proposal(pair) is None
    assert len(pair.orders()) == 2
    hold = TradingProposal(**base, proposal_type=ProposalType.HOLD, quantity=Decimal(0))
    assert check_proposal(hold) is None
    assert hold.orders() == ()
    share = TradingProposal(
        **base, proposal_type=ProposalType.BUY, quantity=Decimal(1), required_share=Decimal(2)
    )
    assert check_proposal(share) == "required_share must be in (0, 1], got 2"


def test_agent_strategy_ids_round_trip() -> None:
    sid = agent_strategy_id("gekko", "trend_following", "BTC/USDT@paper")
    assert sid == "agent:gekko:trend_following:BTC-USDT"
    assert parse_agent_strategy_id(sid) == ("gekko", "trend_following")
    assert parse_agent_strategy_id("sma_cross") is None
