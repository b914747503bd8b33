"""The one composition root: the only module that picks concrete adapters and wires the kernel.

Backtest, paper and live differ here, in what is plugged in (clock, event store, venues, data),
never in the engines themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.backtest.data_files import BarArrays, load_bars
from grekko.backtest.runner import Feed, infer_price_increment
from grekko.core.errors import ConfigError, PluginError
from grekko.core.time import TestClock
from grekko.domain.instruments import Instrument, spot
from grekko.domain.risk import RiskLimits
from grekko.engines.kernel import Kernel
from grekko.plugins import PluginManager
from grekko.settings import PaperSettings, RiskSettings

STRATEGY_GROUP = "grekko.strategies"


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


def paper_venue_config(paper: PaperSettings) -> PaperVenueConfig:
    return PaperVenueConfig(
        slippage_bps=paper.slippage_bps,
        volume_participation=paper.volume_participation,
        latency_ns=paper.latency_ms * 1_000_000,
    )


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


@dataclass
class BacktestSetup:
    kernel: Kernel
    feeds: list[Feed]
    strategies: list[Any]


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
    venue = PaperVenue(
        paper_venue_config(spec.paper),
        kernel.cache.instrument,
        clock,
        kernel.portfolio.position_qty,
    )
    kernel.add_venue(venue)
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
