"""Gordon Gekko: autonomous, but only within its pre-approved strategies and a 2 % per-trade cap."""

from __future__ import annotations

from typing import ClassVar

from grekko.agents.base import BaseAgent
from grekko.domain.agents import AgentType


class Gekko(BaseAgent):
    name: ClassVar[str] = "gekko"
    agent_type: ClassVar[AgentType] = AgentType.GEKKO
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"analyze", "vote", "propose", "execute", "autonomous", "market_making"}
    )
    default_strategies: ClassVar[tuple[str, ...]] = (
        "trend_following",
        "mean_reversion",
        "avellaneda_stoikov",
    )
    default_running: ClassVar[tuple[str, ...]] = ("trend_following",)
    default_veto: ClassVar[float] = 0.5
