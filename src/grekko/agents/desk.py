"""The agent desk: the agents, their configuration, the coordinator, messaging and market view.

Bootstrap builds one desk per kernel and hands it to the agent plugins (`extras["agents"]`);
the API talks to it. It owns no trading logic of its own: the coordinator decides, the agents
judge, the risk engine enforces.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from grekko.agents.base import BaseAgent
from grekko.agents.config import RUN_PARAM, AgentConfig, from_event
from grekko.agents.coordinator import Coordinator, ProposalError
from grekko.agents.hosting import Executor, HostedStrategy
from grekko.agents.market import MarketWatch
from grekko.agents.messaging import Messenger
from grekko.agents.outcomes import AGENT_ORDER_TOPICS, OrderWatcher
from grekko.core.ids import IdGenerator
from grekko.core.time import Clock
from grekko.domain.agents import (
    PROFILES,
    MessageType,
    Priority,
    ProposalType,
    TradingProposal,
    agent_strategy_id,
    fit_to_budget,
)
from grekko.domain.enums import OrderType
from grekko.domain.events import AgentConfigured, AgentStateChanged
from grekko.domain.indicators import INDICATOR_TOPICS, IndicatorSnapshot
from grekko.ports.agents import KernelAccess, ProbabilityModel
from grekko.ports.event_store import EventStore
from grekko.ports.trading import TradingContext

log = logging.getLogger("grekko.agents")

RISK_EVENTS_TOPIC = "events.risk"
_PROPOSAL_NUMBER = re.compile(r"^P-(\d+)$")
StrategyFactory = Callable[[str], Any]


def config_stream(agent_id: str) -> str:
    return f"agents.config.{agent_id}"


class AgentDesk:
    def __init__(
        self,
        access: KernelAccess,
        store: EventStore,
        strategy_factory: StrategyFactory,
        *,
        model: ProbabilityModel | None = None,
        vote_timeout_s: float | None = 0.5,
        auto_confirm: bool = False,
        confirmation_ttl_ns: int | None = None,
        confirmation_clock: Clock | None = None,
    ) -> None:
        self.access = access
        self.store = store
        self._strategy_factory = strategy_factory
        self.messenger = Messenger(access.clock, access.publish)
        self.market = MarketWatch(model)
        self.market.attach(access.subscribe)
        extra = {} if confirmation_ttl_ns is None else {"confirmation_ttl_ns": confirmation_ttl_ns}
        self.coordinator = Coordinator(
            access,
            store,
            self.messenger,
            vote_timeout_s=vote_timeout_s,
            auto_confirm=auto_confirm,
            confirmation_clock=confirmation_clock,
            **extra,
        )
        self.watcher = OrderWatcher(
            self.coordinator.ledger.by_order,
            lambda: self.coordinator.executing,
            self.coordinator.record_outcome,
            self.messenger,
        )
        self.agents: dict[str, BaseAgent] = {}
        self.configs: dict[str, AgentConfig] = {}
        self._hosted: dict[str, list[str]] = {}
        self._executors: dict[str, TradingContext] = {}
        self._ids = IdGenerator("P")
        access.subscribe(AGENT_ORDER_TOPICS, self.watcher.on_order_event)
        access.subscribe(RISK_EVENTS_TOPIC, self._on_risk_event)
        access.subscribe(INDICATOR_TOPICS, self._on_snapshot)

    def rebuild(self) -> int:
        """After a restart: the proposal ledger from the store, ids continuing after it."""
        read = self.coordinator.rebuild()
        numbers = [
            int(m.group(1))
            for pid in self.coordinator.ledger.records
            if (m := _PROPOSAL_NUMBER.match(pid)) is not None
        ]
        if numbers:
            self._ids.advance_past(max(numbers))
        return read

    # ---- joining and leaving ---------------------------------------------------------------------
    def join(self, agent: BaseAgent) -> None:
        if agent.agent_id in self.agents:
            raise ValueError(f"agent {agent.agent_id} is already at the desk")
        config = self._stored_config(agent) or self.default_config(agent)
        self.agents[agent.agent_id] = agent
        self.configs[agent.agent_id] = config
        self.coordinator.seat(agent, config.limit(), enabled=config.enabled)
        for changes in self._stored_state(agent.agent_id):
            agent.update_state(changes)
        self._host(agent, config)

    def leave(self, agent_id: str) -> None:
        self._unhost(agent_id)
        self.coordinator.unseat(agent_id)
        self.agents.pop(agent_id)

    def default_config(self, agent: BaseAgent) -> AgentConfig:
        profile = PROFILES[agent.agent_type]
        params = {RUN_PARAM: ",".join(agent.default_running)} if agent.default_running else {}
        return AgentConfig(
            agent_id=agent.agent_id,
            agent_type=agent.agent_type,
            enabled=True,
            risk_budget_pct=profile.max_trade_pct,
            strategies=agent.default_strategies,
            params=params,
        )

    def _stored_config(self, agent: BaseAgent) -> AgentConfig | None:
        records = self.store.read(config_stream(agent.agent_id))
        events = [r.event for r in records if type(r.event) is AgentConfigured]
        return from_event(events[-1], agent.agent_type) if events else None

    def _stored_state(self, agent_id: str) -> list[dict[str, Any]]:
        records = self.store.read(config_stream(agent_id))
        return [dict(r.event.changes) for r in records if type(r.event) is AgentStateChanged]

    def update_state(self, agent_id: str, changed_by: str, changes: Mapping[str, Any]) -> None:
        """Change an agent's own state (checked by the agent first) and store it."""
        agent = self._agent(agent_id)
        agent.update_state(changes)
        event = AgentStateChanged(
            ts_event=self.access.clock.timestamp_ns(),
            agent_id=agent_id,
            changes=dict(changes),
            changed_by=changed_by,
        )
        self.store.append(config_stream(agent_id), [event])

    def _host(self, agent: BaseAgent, config: AgentConfig) -> None:
        hosted: list[str] = []
        self._hosted[agent.agent_id] = hosted  # filled as they start: a failure can undo them
        instruments = list(config.instruments) or self.access.instruments()
        for name in config.running() if config.enabled else ():
            cls = self._strategy_factory(name)
            for iid in instruments:
                sid = agent_strategy_id(agent.agent_id, name, iid)
                params = {**config.strategy_params(name), "instrument": iid}
                inner = cls(sid, **params)
                self.access.add_strategy(HostedStrategy(sid, name, inner, agent))
                hosted.append(sid)

    def _unhost(self, agent_id: str) -> None:
        for sid in self._hosted.pop(agent_id, []):
            self.access.remove_strategy(sid)

    # ---- configuration -----------------------------------------------------------------------
    def configure(self, agent_id: str, changed_by: str, **changes: Any) -> AgentConfig:
        """Change an agent's configuration: checked, its strategies restarted under it, and only
        then stored; a strategy that cannot start leaves the old configuration in force."""
        agent = self._agent(agent_id)
        old = self.configs[agent_id]
        config = old.changed(**changes)  # validates: raises ValueError
        self._unhost(agent_id)
        try:
            self._host(agent, config)
        except Exception as exc:
            self._unhost(agent_id)
            self._host(agent, old)
            raise ValueError(f"{agent_id}: a strategy could not start: {exc}") from exc
        self.store.append(
            config_stream(agent_id), [config.as_event(self.access.clock.timestamp_ns(), changed_by)]
        )
        self.configs[agent_id] = config
        self.coordinator.set_enabled(agent_id, config.enabled)
        self.coordinator.set_limit(config.limit())
        return config

    def _agent(self, agent_id: str) -> BaseAgent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise ProposalError(f"unknown agent {agent_id!r}; agents: {', '.join(self.agents)}")
        return agent

    # ---- what agents ask of the desk ---------------------------------------------------------
    def context_for(self, agent_id: str, strategy: str, instrument_id: str) -> TradingContext:
        """The real trading context an agent executes through, stamped with its identity."""
        sid = agent_strategy_id(agent_id, strategy, instrument_id)
        if self.access.has_strategy(sid):
            ctx = self.access.context(sid)
            if ctx is not None:
                return ctx
        ctx = self._executors.get(sid)
        if ctx is None:
            ctx = self._executors[sid] = self.access.add_strategy(Executor(sid))
        return ctx

    def new_proposal(
        self,
        proposer: str,
        kind: ProposalType,
        instrument_id: str,
        quantity: Decimal,
        *,
        strategy: str,
        rationale: str,
        order_type: OrderType = OrderType.MARKET,
        price_target: Decimal | None = None,
        timeframe: str = "",
    ) -> TradingProposal:
        now = self.access.clock.timestamp_ns()
        return TradingProposal(
            proposal_id=self._ids.next(),
            proposer=proposer,
            proposal_type=kind,
            instrument_id=instrument_id,
            quantity=quantity,
            order_type=order_type,
            price_target=price_target,
            timeframe=timeframe,
            rationale=rationale,
            risk_assessment=self.risk_assessment(proposer, instrument_id, quantity, price_target),
            strategy=strategy,
            created_ns=now,
        )

    def next_proposal_id(self) -> str:
        return self._ids.next()

    def risk_assessment(
        self, agent_id: str, instrument_id: str, quantity: Decimal, price: Decimal | None
    ) -> str:
        px = price or self.access.last_price(instrument_id)
        equity = self.access.equity()
        if px is None or equity <= 0:
            return "no price or equity known yet"
        notional = quantity * px
        budget = self.configs[agent_id].risk_budget_pct if agent_id in self.configs else Decimal(0)
        snapshot = self.market.snapshots.get(instrument_id)
        atr = (
            f"; one ATR is {snapshot.atr / snapshot.close:.2%} of the price"
            if (snapshot is not None and snapshot.atr)
            else ""
        )
        return (
            f"notional {notional:.2f} = {notional / equity:.2%} of portfolio value {equity:.2f} "
            f"(per-trade budget {budget:.2%}){atr}"
        )

    def budget_quantity(self, agent_id: str, instrument_id: str) -> Decimal:
        price = self.access.last_price(instrument_id)
        instrument = self.access.instrument(instrument_id)
        if price is None or instrument is None:
            return Decimal(0)
        return fit_to_budget(
            Decimal("1e18"),
            price,
            self.access.equity(),
            self.configs[agent_id].risk_budget_pct,
            instrument.size_increment,
        )

    # ---- reactions -----------------------------------------------------------------------------
    def _on_snapshot(self, snapshot: IndicatorSnapshot) -> None:
        for agent in self.agents.values():
            observe = getattr(agent, "observe", None)
            if observe is not None:
                observe(snapshot.instrument_id)
        if self.coordinator.ledger.pending:
            self.coordinator.expire_due()

    def _on_risk_event(self, event: Any) -> None:
        payload: dict[str, object] = {
            "event": type(event).__name__,
            "reason": str(getattr(event, "reason", "")),
        }
        state = getattr(event, "state", None)
        if state is not None:
            payload["state"] = str(state)
        self.messenger.broadcast(MessageType.RISK_ALERT, "risk", payload, Priority.CRITICAL)

    # ---- reads for the API ---------------------------------------------------------------------
    def performance(self, agent_id: str) -> Mapping[str, object]:
        self._agent(agent_id)
        return self.watcher.book(agent_id).summary(self.access.last_price)

    def describe(self, agent_id: str) -> dict[str, object]:
        agent = self._agent(agent_id)
        return {
            "state": dict(agent.get_state()),
            "config": self.configs[agent_id].as_dict(),
            "enabled": self.coordinator.seats[agent_id].enabled,
            "hosted_strategies": list(self._hosted.get(agent_id, [])),
        }
