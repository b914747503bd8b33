"""Wiring of the agent desk: the kernel seen through the KernelAccess port, the indicator
stream the agents read, and the agent plugins started from the grekko.agents group."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from grekko.agents.desk import AgentDesk
from grekko.core.errors import ConfigError, PluginError
from grekko.core.time import NS_PER_S, Clock
from grekko.domain.indicators import indicator_topic
from grekko.domain.instruments import Instrument
from grekko.domain.risk import AgentLimit
from grekko.engines.ingest.enricher import Enricher
from grekko.engines.kernel import Kernel
from grekko.plugins import PluginContext, PluginManager
from grekko.ports.agents import ProbabilityModel
from grekko.ports.event_store import EventStore
from grekko.ports.trading import TradingContext, TradingStrategy

AGENT_GROUP = "grekko.agents"
ENRICHER_PRIORITY = 50  # after the venues and the portfolio, before strategies decide


class KernelAccessAdapter:
    """KernelAccess over a Kernel: what the agents may touch, and nothing else."""

    def __init__(
        self,
        kernel: Kernel,
        ids_used: Mapping[str, int] | None = None,
        on_limit: Callable[[AgentLimit], None] | None = None,
    ) -> None:
        """on_limit: also told every cap set (`grekko serve agents` shares them with risk)."""
        self._kernel = kernel
        self._ids_used = dict(ids_used or {})
        self._on_limit = on_limit
        self.clock = kernel.clock

    def subscribe(self, topic: str, handler: Callable[[Any], None]) -> None:
        self._kernel.bus.subscribe(topic, handler)

    def unsubscribe(self, topic: str, handler: Callable[[Any], None]) -> None:
        self._kernel.bus.unsubscribe(topic, handler)

    def publish(self, topic: str, message: object) -> None:
        self._kernel.bus.publish(topic, message)

    def add_strategy(self, strategy: TradingStrategy) -> TradingContext:
        """Client order ids continue after the strategy id's highest one: a strategy that is
        restarted (reconfigured, or after a crash) never reuses an id."""
        sid = strategy.strategy_id
        used = max(self._ids_used.get(sid, 0), self._highest_order_number(sid))
        return self._kernel.trader.add(strategy, ids_used=used)

    def _highest_order_number(self, strategy_id: str) -> int:
        prefix = f"O-{strategy_id}-"
        numbers = [
            int(oid[len(prefix) :])
            for oid in self._kernel.cache.orders
            if oid.startswith(prefix) and oid[len(prefix) :].isdigit()
        ]
        return max(numbers, default=0)

    def remove_strategy(self, strategy_id: str) -> None:
        self._kernel.trader.remove(strategy_id)

    def has_strategy(self, strategy_id: str) -> bool:
        return strategy_id in self._kernel.trader.strategies

    def context(self, strategy_id: str) -> TradingContext | None:
        if strategy_id not in self._kernel.trader.strategies:
            return None
        return self._kernel.trader.context(strategy_id)

    def equity(self) -> Decimal:
        return self._kernel.portfolio.equity()

    def last_price(self, instrument_id: str) -> Decimal | None:
        return self._kernel.cache.last_price(instrument_id)

    def position(self, instrument_id: str) -> Decimal:
        return self._kernel.portfolio.position_qty(instrument_id)

    def instrument(self, instrument_id: str) -> Instrument | None:
        return self._kernel.cache.instrument(instrument_id)

    def instruments(self) -> list[str]:
        return sorted(self._kernel.cache.instruments)

    def set_agent_limit(self, limit: AgentLimit) -> None:
        self._kernel.risk.set_agent_limit(limit)
        if self._on_limit is not None:
            self._on_limit(limit)


def attach_enricher(kernel: Kernel) -> Enricher:
    """Publish indicator snapshots of every bar, as the ingest pipeline does in live mode."""
    bus = kernel.bus
    enricher = Enricher(lambda snap: bus.publish(indicator_topic(snap.instrument_id), snap))
    bus.subscribe("data.bars.*", enricher.on_bar, ENRICHER_PRIORITY)
    return enricher


def build_agent_desk(
    kernel: Kernel,
    store: EventStore,
    names: Sequence[str],
    *,
    auto_confirm: bool = False,
    vote_timeout_s: float | None = 0.5,
    confirmation_ttl_s: int = 120,
    ids_used: Mapping[str, int] | None = None,
    model: ProbabilityModel | None = None,
    plugins: PluginManager | None = None,
    enrich: bool = True,
    confirmation_clock: Clock | None = None,
    on_limit: Callable[[AgentLimit], None] | None = None,
) -> AgentDesk:
    """A desk over the kernel with the named agent plugins started and seated."""
    from grekko.bootstrap import strategy_class

    manager = plugins or PluginManager()
    if enrich:
        attach_enricher(kernel)
    desk = AgentDesk(
        KernelAccessAdapter(kernel, ids_used, on_limit),
        store,
        lambda name: strategy_class(name, manager),
        model=model,
        vote_timeout_s=vote_timeout_s,
        auto_confirm=auto_confirm,
        confirmation_ttl_ns=confirmation_ttl_s * NS_PER_S,
        confirmation_clock=confirmation_clock,
    )
    desk.rebuild()
    ctx = PluginContext(
        bus=kernel.bus,
        clock=kernel.clock,
        settings=None,
        extras=MappingProxyType({"agents": desk}),
    )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"agent {name!r} is listed twice")
        seen.add(name)
        try:
            manager.start(AGENT_GROUP, name, ctx)
        except PluginError as exc:
            raise ConfigError(str(exc)) from exc
    return desk
