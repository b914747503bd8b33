"""The one composition root: the only module that picks concrete adapters and wires the kernel.

Backtest, paper and live differ here, in what is plugged in (clock, event store, venues, data),
never in the engines themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from grekko.adapters.files.bars import BarArrays, bundled_files, load_bars
from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.adapters.sql import SqlEventStore
from grekko.backtest.runner import Feed, infer_price_increment
from grekko.core.errors import ConfigError, PluginError
from grekko.core.time import TestClock
from grekko.domain.instruments import Instrument, spot
from grekko.domain.risk import RiskLimits
from grekko.engines.kernel import Kernel
from grekko.paper.checkpoint import CursorStore
from grekko.paper.replay import Replay, ReplayFeed
from grekko.paper.session import PaperSession, RestartReport
from grekko.plugins import PluginContext, PluginManager
from grekko.settings import PaperSettings, RiskSettings, Settings

STRATEGY_GROUP = "grekko.strategies"
VENUE_GROUP = "grekko.venues"


def risk_limits(risk: RiskSettings) -> RiskLimits:
    return RiskLimits(
        max_order_notional=risk.max_order_notional,
        max_position_qty=risk.max_position_qty,
        price_band_pct=risk.price_band_pct,
        max_orders_per_second=risk.max_orders_per_second,
        strategy_budget_pct=risk.strategy_budget_pct,
        daily_loss_pct=risk.daily_loss_pct,
        max_drawdown_pct=risk.max_drawdown_pct,
        allowed_instruments=frozenset(risk.allowed_instruments),
    )


@dataclass(frozen=True)
class _VenueSettings:
    """The part of the settings a venue plugin reads (`ctx.settings.paper`)."""

    paper: PaperSettings


def start_venue(
    kernel: Kernel, name: str, paper: PaperSettings, plugins: PluginManager | None = None
) -> Any:
    """Start a venue plugin by entry-point name and return its venue: built-ins are plugins too."""
    manager = plugins or PluginManager()
    ctx = PluginContext(
        bus=kernel.bus,
        clock=kernel.clock,
        settings=_VenueSettings(paper),
        extras=MappingProxyType({"kernel": kernel}),
    )
    try:
        plugin = manager.start(VENUE_GROUP, name, ctx)
    except PluginError as exc:
        raise ConfigError(str(exc)) from exc
    return plugin.venue


def strategy_class(name: str, plugins: PluginManager | None = None) -> Any:
    """Resolve a strategy by entry-point name: built-ins and third-party plugins alike."""
    manager = plugins or PluginManager()
    try:
        return manager.load(STRATEGY_GROUP, name)
    except PluginError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass(frozen=True)
class BacktestSpec:
    files: tuple[Path, ...]
    strategy: str
    params: Mapping[str, str] = field(default_factory=dict)
    symbol: str | None = None
    quantity: Decimal = Decimal(1)
    fee: Decimal = Decimal("0.001")
    cash: Decimal = Decimal(10_000_000)
    cash_currency: str = "USDT"
    risk: RiskSettings = field(default_factory=RiskSettings)
    paper: PaperSettings = field(default_factory=PaperSettings)
    agents: tuple[str, ...] = ()  # agent plugins; they host their own strategies
    auto_confirm: bool = False  # stands in for the user's confirmations (backtests only)
    agent_params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass
class BacktestSetup:
    kernel: Kernel
    feeds: list[Feed]
    strategies: list[Any]
    desk: Any = None  # AgentDesk when agents run


def _instrument_for(bars: BarArrays, fee: Decimal) -> Instrument:
    return spot(
        bars.symbol,
        price_increment=str(infer_price_increment(bars.close)),
        size_increment="0.00000001",
        fee=str(fee),
    )


def build_backtest(spec: BacktestSpec) -> BacktestSetup:
    if not spec.files:
        raise ConfigError("a backtest needs at least one --data file")
    arrays = [load_bars(path, symbol=spec.symbol) for path in spec.files]
    start = min(int(a.ts_open_ns[0]) for a in arrays)
    clock = TestClock(start)
    kernel = Kernel(
        clock, InMemoryEventStore(), cash_currency=spec.cash_currency, limits=risk_limits(spec.risk)
    )
    start_venue(kernel, "paper", spec.paper)
    feeds = []
    for bars in arrays:
        instrument = _instrument_for(bars, spec.fee)
        if instrument.quote != spec.cash_currency:
            raise ConfigError(
                f"{bars.source.name}: quote currency {instrument.quote} differs from the cash currency "
                f"{spec.cash_currency}; pass --currency {instrument.quote}"
            )
        kernel.add_instrument(instrument)
        feeds.append(Feed(instrument.id, bars))
    kernel.fund(spec.cash_currency, spec.cash)
    if spec.agents:
        return BacktestSetup(kernel, feeds, [], _backtest_desk(kernel, spec))
    cls = strategy_class(spec.strategy)
    strategies = []
    for feed in feeds:
        params = {"quantity": str(spec.quantity), **spec.params, "instrument": feed.instrument_id}
        sid = spec.strategy if len(feeds) == 1 else f"{spec.strategy}-{feed.bars.symbol}"
        try:
            strategy = cls(sid, **params)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        kernel.trader.add(strategy)
        strategies.append(strategy)
    return BacktestSetup(kernel, feeds, strategies)


def _backtest_desk(kernel: Kernel, spec: BacktestSpec) -> Any:
    from grekko.bootstrap.agents import build_agent_desk

    unknown = sorted(set(spec.agent_params) - set(spec.agents))
    if unknown:
        raise ConfigError(f"--agent-param names agents that do not run: {', '.join(unknown)}")
    # no vote timeout: a backtest must decide the same way on every run, however slow the machine
    desk = build_agent_desk(
        kernel, kernel.store, spec.agents, auto_confirm=spec.auto_confirm, vote_timeout_s=None
    )
    for agent_id, params in spec.agent_params.items():
        configure_agent(desk, agent_id, params, "backtest")
    return desk


def configure_agent(desk: Any, agent_id: str, params: Mapping[str, str], by: str) -> None:
    """Apply key=value settings to an agent: enabled, risk_budget_pct, instruments, strategies
    (comma lists), and anything else as a parameter (run, quantity, <strategy>.<param>)."""
    config = desk.configs[agent_id]
    changes: dict[str, Any] = {}
    extra = dict(config.params)
    try:
        for key, value in params.items():
            if key == "enabled":
                changes["enabled"] = value.lower() in {"1", "true", "yes", "on"}
            elif key == "risk_budget_pct":
                changes["risk_budget_pct"] = Decimal(value)
            elif key in {"instruments", "strategies"}:
                changes[key] = tuple(v.strip() for v in value.split(",") if v.strip())
            else:
                extra[key] = value
        changes["params"] = extra
        desk.configure(agent_id, by, **changes)
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"agent {agent_id}: {exc}") from exc


# ---- paper session (`grekko up`) ------------------------------------------------------------------
LOST_IN_FLIGHT = "lost in flight at restart"


def replay_files(settings: Settings) -> list[Path]:
    """The configured replay files (relative paths are in the data dir), else the bundled slice."""
    files = [p if p.is_absolute() else settings.data_dir / p for p in settings.replay.files]
    if not files:
        files = bundled_files()
    if not files:
        raise ConfigError("no replay files configured and no bundled data slice found")
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise ConfigError(f"replay file(s) not found: {', '.join(missing)}")
    return files


def build_paper_session(
    settings: Settings, *, speed: float | None = None, max_bars: int | None = None
) -> PaperSession:
    """Open the store, rebuild the kernel from it, and return a session ready to run.

    Restart order matters: the store is replayed first (orders, positions, balances, state),
    the venue takes back the orders it had accepted, orders stored as submitted but never
    accepted are canceled as lost, and only then do strategies start, their client order ids
    continuing after the highest one stored so no id is ever handed out twice.
    """
    speed = settings.replay.speed if speed is None else speed
    if not speed > 0:
        raise ConfigError(f"--speed must be a positive number of bars per second, got {speed}")
    if max_bars is not None and max_bars <= 0:
        raise ConfigError(f"--max-bars must be positive, got {max_bars}")
    instruments, replay = _paper_replay(settings)
    store = SqlEventStore(settings.database_url)
    try:
        return _assemble_paper_session(settings, store, instruments, replay, speed, max_bars)
    except BaseException:
        store.close()
        raise


def _paper_replay(settings: Settings) -> tuple[list[Instrument], Replay]:
    currency = settings.paper.cash_currency
    instruments: list[Instrument] = []
    feeds: list[ReplayFeed] = []
    for path in replay_files(settings):
        bars = load_bars(path)
        instrument = _instrument_for(bars, settings.paper.fee)
        if instrument.quote != currency:
            raise ConfigError(
                f"{path.name}: quote currency {instrument.quote} differs from paper.cash_currency "
                f"{currency}"
            )
        if instrument.id in {i.id for i in instruments}:
            raise ConfigError(f"{path.name}: a second replay file for {instrument.symbol}")
        instruments.append(instrument)
        feeds.append(ReplayFeed(instrument.id, bars))
    return instruments, Replay(feeds)


def _assemble_paper_session(
    settings: Settings,
    store: SqlEventStore,
    instruments: list[Instrument],
    replay: Replay,
    speed: float,
    max_bars: int | None,
) -> PaperSession:
    cursors = CursorStore(store, replay.fingerprint())
    cursor = cursors.load()
    clock = TestClock(cursor.ts_event if cursor is not None else replay.first_ts_open)
    kernel = Kernel(
        clock,
        store,
        cash_currency=settings.paper.cash_currency,
        limits=risk_limits(settings.risk),
    )
    venue = start_venue(kernel, "paper", settings.paper)
    for instrument in instruments:
        kernel.add_instrument(instrument)
    chain = _paper_chain(kernel, store, settings, replay)
    try:
        session = _recover_paper_session(
            settings, store, kernel, clock, venue, replay, cursors, cursor, speed, max_bars
        )
    except BaseException:
        if chain is not None:
            chain.close()
        raise
    if chain is not None:
        from grekko.bootstrap.chain import start_chain

        session.chain = chain
        start_chain(chain, kernel, settings)
    return session


def _paper_chain(kernel: Kernel, store: SqlEventStore, settings: Settings, replay: Replay) -> Any:
    """The chain side (devnet, wallet, DEX venue) with pools at the replay's first prices."""
    if not settings.chain.enabled:
        return None
    from grekko.bootstrap.chain import build_chain

    first: dict[str, Decimal] = {}
    for feed in replay.feeds:
        base, _, rest = feed.instrument_id.partition("/")
        if base in {"BTC", "ETH", "UNI"} and rest.partition("@")[0] in {"USDT", "USD", "USDC"}:
            first[base] = Decimal(repr(float(feed.columns.close[0])))
    return build_chain(kernel, store.engine, settings, first)


def _recover_paper_session(
    settings: Settings,
    store: SqlEventStore,
    kernel: Kernel,
    clock: TestClock,
    venue: Any,
    replay: Replay,
    cursors: CursorStore,
    cursor: Any,
    speed: float,
    max_bars: int | None,
) -> PaperSession:
    recovery = kernel.recover()
    if cursor is not None and cursor.next_day_ns:
        kernel.risk.restore_watermarks(
            cursor.peak_equity, cursor.day_start_equity, cursor.next_day_ns
        )
    venue.restore(recovery.open_orders)
    restored = tuple(sorted(venue.open_order_ids()))
    lost = tuple(kernel.execution.cancel_unknown_to_venues(LOST_IN_FLIGHT))
    if recovery.events == 0:
        kernel.fund(settings.paper.cash_currency, settings.paper.starting_cash)
    _add_paper_strategies(kernel, settings, replay, recovery.orders_per_strategy)
    desk = _paper_desk(kernel, store, settings, recovery.orders_per_strategy)
    restart = RestartReport(
        events=recovery.events,
        resume_index=cursor.index + 1 if cursor is not None else 0,
        restored_orders=restored,
        lost_in_flight=lost,
        funded=recovery.events == 0,
    )
    end = replay.total if max_bars is None else min(max_bars, replay.total)
    session = PaperSession(
        kernel, clock, store, replay, cursors, restart=restart, speed=speed, end=end
    )
    session.agents = desk
    return session


def _paper_desk(
    kernel: Kernel, store: SqlEventStore, settings: Settings, ids_used: Mapping[str, int]
) -> Any:
    """The agent desk of a paper session; None when no agent is enabled."""
    from grekko.bootstrap.agents import build_agent_desk
    from grekko.core.time import LiveClock

    cfg = settings.agents
    if not cfg.enabled:
        return None
    return build_agent_desk(
        kernel,
        store,
        cfg.enabled,
        vote_timeout_s=cfg.vote_timeout_ms / 1000,
        confirmation_ttl_s=cfg.confirmation_ttl_s,
        ids_used=ids_used,
        confirmation_clock=LiveClock(),
    )


def _add_paper_strategies(
    kernel: Kernel,
    settings: Settings,
    replay: Replay,
    ids_used: Mapping[str, int],
    only: Callable[[str], bool] | None = None,
) -> None:
    """One strategy per replayed instrument (those `only` accepts: a process's partition)."""
    cfg = settings.replay
    cls = strategy_class(cfg.strategy)
    several = len(replay.feeds) > 1
    for feed in replay.feeds:
        if only is not None and not only(feed.instrument_id):
            continue
        symbol = feed.instrument_id.partition("@")[0]
        sid = f"{cfg.strategy}-{symbol}" if several else cfg.strategy
        params = {"quantity": str(cfg.quantity), **cfg.params, "instrument": feed.instrument_id}
        try:
            strategy = cls(sid, **params)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        kernel.trader.add(strategy, ids_used=ids_used.get(sid, 0))


from grekko.bootstrap.data import (  # noqa: E402 - the submodules import this package's helpers
    load_bar_file,
    ohlcv_history,
    open_candle_store,
    open_history_exchange,
)
from grekko.bootstrap.ingest import (  # noqa: E402
    IngestRuntime,
    IngestSources,
    LiveFeedSpec,
    ReplaySpec,
    build_ingest,
)

__all__ = [
    "BacktestSetup",
    "BacktestSpec",
    "IngestRuntime",
    "IngestSources",
    "LiveFeedSpec",
    "ReplaySpec",
    "build_backtest",
    "build_ingest",
    "build_paper_session",
    "load_bar_file",
    "ohlcv_history",
    "open_candle_store",
    "open_history_exchange",
    "replay_files",
    "risk_limits",
    "start_venue",
    "strategy_class",
]
