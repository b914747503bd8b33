"""What a vote's result becomes: the autonomy rules and the budget fit, decided before execution.

Pure decisions over the proposal, the proposer's limit and what the kernel reports (position,
price, equity); the risk engine checks the same limits again on every order.
"""

from __future__ import annotations

from decimal import Decimal

from grekko.domain.agents import Decision, TradingProposal, fit_to_budget
from grekko.domain.risk import AgentLimit, reduces_position
from grekko.ports.agents import KernelAccess

Judgement = tuple[Decision, Decimal, str]
ZERO = Decimal(0)


def judge(
    p: TradingProposal, limit: AgentLimit, approved: bool, share: Decimal, access: KernelAccess
) -> Judgement:
    votes = f"{share:.0%} of the active weight"
    if p.expires_ns and access.clock.timestamp_ns() > p.expires_ns:
        return Decision.REJECTED, ZERO, "the proposal expired before it was decided"
    if not approved:
        return Decision.REJECTED, ZERO, f"{votes} voted yes; {p.required_share:.0%} needed"
    orders = p.orders()
    if not orders:
        return Decision.APPROVED, p.quantity, f"approved: {votes} voted yes (nothing to trade)"
    refusal = _autonomy(p, limit)
    if refusal is not None:
        return Decision.REJECTED, ZERO, refusal
    if len(orders) != 1:
        return Decision.APPROVED, p.quantity, f"approved: {votes} voted yes"
    return _fit(p, limit, votes, access)


def _autonomy(p: TradingProposal, limit: AgentLimit) -> str | None:
    if limit.max_trade_pct <= 0:
        return f"{p.proposer} is read-only: it never trades"
    allowed = limit.approved_strategies
    if allowed is not None and p.strategy not in allowed:
        listed = ", ".join(sorted(allowed)) or "none"
        return f"{p.strategy!r} is not among {p.proposer}'s pre-approved strategies ({listed})"
    if limit.instruments is not None:
        outside = [o.instrument_id for o in p.orders() if o.instrument_id not in limit.instruments]
        if outside:
            return f"{p.proposer} may not trade {', '.join(outside)}"
    return None


def _fit(p: TradingProposal, limit: AgentLimit, votes: str, access: KernelAccess) -> Judgement:
    leg = p.orders()[0]
    if reduces_position(access.position(leg.instrument_id), leg.side, leg.quantity):
        return Decision.APPROVED, p.quantity, f"approved: {votes} voted yes (reduces a position)"
    price = leg.price or access.last_price(leg.instrument_id)
    instrument = access.instrument(leg.instrument_id)
    if price is None or instrument is None:
        return Decision.REJECTED, ZERO, f"no price known for {leg.instrument_id} yet"
    equity = access.equity()
    pct = limit.max_trade_pct
    fitted = fit_to_budget(p.quantity, price, equity, pct, instrument.size_increment)
    if fitted == p.quantity:
        return Decision.APPROVED, p.quantity, f"approved: {votes} voted yes"
    if fitted <= 0:
        return (
            Decision.REJECTED,
            ZERO,
            (
                f"approved by vote, but {p.proposer}'s budget ({pct:%} of {equity:.2f}) does not "
                f"cover one {instrument.size_increment} lot at {price}"
            ),
        )
    return (
        Decision.MODIFIED,
        fitted,
        (
            f"approved: {votes} voted yes; quantity cut from {p.quantity} to {fitted} to fit "
            f"{p.proposer}'s per-trade budget of {pct:%} of {equity:.2f}"
        ),
    )
