"""Gordo: semi-autonomous. It proposes trades from its strategies; each one waits for the user."""

from __future__ import annotations

from typing import ClassVar

from grekko.agents.base import BaseAgent
from grekko.domain.agents import AgentType


class Gordo(BaseAgent):
    name: ClassVar[str] = "gordo"
    agent_type: ClassVar[AgentType] = AgentType.GORDO
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"analyze", "vote", "propose", "execute", "needs_confirmation"}
    )
    default_strategies: ClassVar[tuple[str, ...]] = (
        "mean_reversion",
        "trend_following",
        "analysis",
        "manual",
    )
    default_running: ClassVar[tuple[str, ...]] = ("mean_reversion",)
    default_veto: ClassVar[float] = 0.3
