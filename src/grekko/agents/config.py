"""An agent's configuration: what the user may change, checked against the agent type's limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from grekko.domain.agents import PROFILES, AgentType
from grekko.domain.events import AgentConfigured
from grekko.domain.risk import AgentLimit

RUN_PARAM = "run"  # comma-separated strategies the agent runs, a subset of the allowed ones


@dataclass(frozen=True)
class AgentConfig:
    agent_id: str
    agent_type: AgentType
    enabled: bool = True
    risk_budget_pct: Decimal = Decimal(0)  # per trade, of portfolio value
    instruments: tuple[str, ...] = ()  # allowed; empty = any
    strategies: tuple[str, ...] = ()  # allowed (Gekko's pre-approved list)
    params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        hard = PROFILES[self.agent_type].max_trade_pct
        if not Decimal(0) <= self.risk_budget_pct <= hard:
            raise ValueError(
                f"{self.agent_id}: risk budget {self.risk_budget_pct} is outside 0..{hard} "
                f"(the per-trade cap of a {self.agent_type} agent)"
            )
        unknown = [s for s in self.running() if s not in self.strategies]
        if unknown:
            raise ValueError(
                f"{self.agent_id}: runs {unknown} which are not among its allowed strategies "
                f"{list(self.strategies)}"
            )

    def running(self) -> tuple[str, ...]:
        raw = self.params.get(RUN_PARAM, "")
        return tuple(s.strip() for s in raw.split(",") if s.strip())

    def strategy_params(self, strategy: str) -> dict[str, str]:
        """Parameters for one strategy: `quantity` and `<strategy>.<key>` entries."""
        out = {k: v for k, v in self.params.items() if k == "quantity"}
        prefix = f"{strategy}."
        out.update({k[len(prefix) :]: v for k, v in self.params.items() if k.startswith(prefix)})
        return out

    def limit(self) -> AgentLimit:
        profile = PROFILES[self.agent_type]
        return AgentLimit(
            agent_id=self.agent_id,
            agent_type=self.agent_type,
            max_trade_pct=self.risk_budget_pct if self.enabled else Decimal(0),
            approved_strategies=frozenset(self.strategies)
            if profile.restricted_to_approved_strategies
            else None,
            instruments=frozenset(self.instruments) if self.instruments else None,
        )

    def changed(self, **changes: object) -> AgentConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_event(self, ts_ns: int, changed_by: str) -> AgentConfigured:
        return AgentConfigured(
            ts_event=ts_ns,
            agent_id=self.agent_id,
            enabled=self.enabled,
            risk_budget_pct=self.risk_budget_pct,
            instruments=self.instruments,
            strategies=self.strategies,
            params=dict(self.params),
            changed_by=changed_by,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "agent_id": self.agent_id,
            "agent_type": str(self.agent_type),
            "enabled": self.enabled,
            "risk_budget_pct": str(self.risk_budget_pct),
            "max_risk_budget_pct": str(PROFILES[self.agent_type].max_trade_pct),
            "instruments": list(self.instruments),
            "strategies": list(self.strategies),
            "running": list(self.running()),
            "params": dict(self.params),
        }


def from_event(event: AgentConfigured, agent_type: AgentType) -> AgentConfig:
    return AgentConfig(
        agent_id=event.agent_id,
        agent_type=agent_type,
        enabled=event.enabled,
        risk_budget_pct=event.risk_budget_pct,
        instruments=event.instruments,
        strategies=event.strategies,
        params=dict(event.params),
    )


def parse_pct(text: str, name: str = "risk_budget_pct") -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} must be a number such as 0.02, got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"{name} must be finite")
    return value
