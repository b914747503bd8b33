"""The one composition root: the only module that picks concrete adapters and wires the kernel.

Backtest, paper and live differ here, in what is plugged in (clock, event store, venues, data),
never in the engines themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from grekko.adapters.files.bars import BarArrays, bundled_files, load_bars
from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.adapters.sql import SqlEventStore
from grekko.backtest.runner import Feed, infer_price_increment
from grekko.core.errors import ConfigError, DataError, PluginError, VenueError
from grekko.core.time import TestClock, ns_to_iso
from grekko.domain.instruments import Instrument, spot
from grekko.domain.raw import RawBar
from grekko.domain.risk import RiskLimits
from grekko.domain.streams import StreamDataType
from grekko.engines.kernel import Kernel
from grekko.paper.checkpoint import CursorStore
from grekko.paper.replay import Replay, ReplayFeed
from grekko.paper.session import PaperSession, RestartReport
from grekko.plugins import PluginContext, PluginManager
from grekko.ports.candles import CandleStore
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
    restart = RestartReport(
        events=recovery.events,
        resume_index=cursor.index + 1 if cursor is not None else 0,
        restored_orders=restored,
        lost_in_flight=lost,
        funded=recovery.events == 0,
    )
    end = replay.total if max_bars is None else min(max_bars, replay.total)
    return PaperSession(
        kernel, clock, store, replay, cursors, restart=restart, speed=speed, end=end
    )


def _add_paper_strategies(
    kernel: Kernel, settings: Settings, replay: Replay, ids_used: Mapping[str, int]
) -> None:
    cfg = settings.replay
    cls = strategy_class(cfg.strategy)
    several = len(replay.feeds) > 1
    for feed in replay.feeds:
        symbol = feed.instrument_id.partition("@")[0]
        sid = f"{cfg.strategy}-{symbol}" if several else cfg.strategy
        params = {"quantity": str(cfg.quantity), **cfg.params, "instrument": feed.instrument_id}
        try:
            strategy = cls(sid, **params)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        kernel.trader.add(strategy, ids_used=ids_used.get(sid, 0))


# ---- candle store and history fetch (`grekko data`) -----------------------------------------------


def open_candle_store(settings: Settings) -> CandleStore:
    """Candles live in the event store's database (settings.database_url), migrated on open."""
    from grekko.adapters.sql.candle_store import SqlCandleStore

    return SqlCandleStore(settings.database_url)


def load_bar_file(path: Path, symbol: str | None = None) -> BarArrays:
    """A validated bar file (CSV, CSV.gz, Parquet) as columns; see grekko.adapters.files.bars."""
    return load_bars(path, symbol=symbol)


def open_history_exchange(exchange_id: str, api_urls: Mapping[str, str] | None = None) -> Any:
    """A ccxt exchange for public history; use it as `async with`. api_urls: tests, mirrors."""
    from grekko.adapters.ccxt.exchange import open_exchange

    return open_exchange(exchange_id, api_urls=api_urls)


async def ohlcv_history(
    exchange: Any, symbol: str, timeframe: str, since_ms: int, **options: Any
) -> AsyncIterator[list[RawBar]]:
    """Pages of RawBar, oldest first (grekko.adapters.ccxt.history.fetch_ohlcv_history).

    ccxt's own errors (network, rate limit, unknown symbol) become VenueError, so the CLI
    reports them as a message with exit code 2 instead of a traceback.
    """
    import ccxt

    from grekko.adapters.ccxt.history import fetch_ohlcv_history

    pages = fetch_ohlcv_history(exchange, symbol, timeframe, since_ms, **options)
    try:
        async for page in pages:
            yield page
    except ccxt.BaseError as exc:
        raise VenueError(f"{exchange.id}: {type(exc).__name__}: {exc}") from exc


# ---- market data pipeline (`grekko ingest`) -------------------------------------------------------
@dataclass(frozen=True)
class ReplaySpec:
    """A bar or trade file to replay; speed None = as fast as possible, 1.0 = real time."""

    path: Path
    symbol: str | None = None
    venue: str = "replay"
    speed: float | None = None
    loop: bool = False


@dataclass(frozen=True)
class LiveFeedSpec:
    """A ccxt feed: exchange id, unified symbol, channel trades|ohlcv|ticker|book."""

    exchange: str
    symbol: str
    channel: str = "trades"
    websocket: bool = True
    api_urls: tuple[tuple[str, str], ...] = ()
    ws_url: str | None = None


@dataclass(frozen=True)
class IngestSources:
    replays: tuple[ReplaySpec, ...] = ()
    live: tuple[LiveFeedSpec, ...] = ()
    news: bool = False


@dataclass
class IngestRuntime:
    service: Any
    closers: list[Callable[[], None]]
    summaries: list[Callable[[], dict[str, Any]]]
    renderables: list[Callable[[], Any]]

    def extra_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in self.summaries:
            out.update(part())
        return out

    def extra_renderables(self) -> list[Any]:
        return [make() for make in self.renderables]

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def build_ingest(settings: Settings, sources: IngestSources) -> IngestRuntime:
    """The ingest service on a live clock with its sources; quarantine goes to the data dir's DB."""
    from grekko.adapters.sql.engine import build_engine
    from grekko.adapters.sql.quarantine_store import SqlQuarantineStore
    from grekko.core.time import LiveClock
    from grekko.engines.bus import MessageBus
    from grekko.engines.cache import Cache
    from grekko.engines.data_engine import DataEngine
    from grekko.engines.ingest.quarantine import Quarantine
    from grekko.engines.ingest.service import IngestService
    from grekko.engines.streamer import DataStreamer

    if not (sources.replays or sources.live or sources.news):
        raise ConfigError("nothing to ingest: give --replay FILE, --exchange/--market or --news")
    ing = settings.ingest
    engine = build_engine(settings.database_url)
    clock = LiveClock()
    bus = MessageBus()
    service = IngestService(
        bus=bus,
        clock=clock,
        data_engine=DataEngine(bus, Cache()),
        streamer=DataStreamer(bus, clock),
        quarantine=Quarantine(sink=SqlQuarantineStore(engine)),
        indicators=_indicator_settings(settings),
        rules=_live_rules(settings),
    )
    runtime = IngestRuntime(service, [engine.dispose], [], [])
    replay_rules = replace_rules(_live_rules(settings), stale_after_ns=0, max_future_ns=0)
    for index, spec in enumerate(sources.replays):
        source = _replay_source(spec)
        stream_id = f"replay{index + 1}.{spec.path.name}"
        pipeline = service.add_source(
            stream_id, source, rules=replay_rules, bar_interval_ns=ing.bar_interval_s * 10**9
        )
        # an old file's records are years old: their age is not the pipeline's lag
        pipeline.metrics.measures_lag = spec.speed == 1.0
    for spec in sources.live:
        _add_live_feed(service, runtime, settings, spec)
    if sources.live:
        _record_candles(service, runtime, settings, {spec.exchange for spec in sources.live})
    if sources.news:
        _add_news(service, runtime, settings, engine)
    return runtime


def _indicator_settings(settings: Settings) -> Any:
    from grekko.domain.indicators import IndicatorSettings

    i = settings.ingest
    try:
        return IndicatorSettings(sma=i.sma, ema=i.ema, rsi=i.rsi, bollinger=i.bollinger, atr=i.atr)
    except ValueError as exc:
        raise ConfigError(f"ingest indicators: {exc}") from exc


def _live_rules(settings: Settings) -> Any:
    from grekko.engines.ingest.validator import ValidationRules

    i = settings.ingest
    return ValidationRules(
        window=i.spike_window,
        spike_mads=i.spike_mads,
        spike_min_move=i.spike_min_move,
        stale_after_ns=round(i.stale_after_s * 1e9),
        max_future_ns=round(i.max_future_s * 1e9),
    )


def replace_rules(rules: Any, **changes: Any) -> Any:
    import msgspec

    return msgspec.structs.replace(rules, **changes)


def _replay_source(spec: ReplaySpec) -> Any:
    from grekko.adapters.files.replay import BarReplay, TradeReplay
    from grekko.core.time import LiveClock

    rebase = LiveClock().timestamp_ns if spec.speed == 1.0 else None
    try:
        return BarReplay(
            spec.path,
            venue=spec.venue,
            symbol=spec.symbol,
            speed=spec.speed,
            loop=spec.loop,
            rebase_ns=rebase,
        )
    except DataError as as_bars:
        if spec.symbol is None:
            raise ConfigError(
                f"{spec.path.name}: not a bar file ({as_bars}); to replay it as trades name its "
                "symbol: --replay FILE=BTC/USDT"
            ) from as_bars
        try:
            return TradeReplay(
                spec.path,
                symbol=spec.symbol,
                venue=spec.venue,
                speed=spec.speed,
                loop=spec.loop,
                rebase_ns=rebase,
            )
        except DataError as as_trades:
            raise DataError(
                f"{spec.path.name}: neither a bar file ({as_bars}) nor a trade file ({as_trades})"
            ) from as_trades


def _add_live_feed(
    service: Any, runtime: IngestRuntime, settings: Settings, spec: LiveFeedSpec
) -> None:
    from grekko.adapters.ccxt.feed import CcxtFeed

    feed = CcxtFeed(
        spec.exchange,
        spec.symbol,
        spec.channel,
        websocket=spec.websocket,
        interval_s=settings.ingest.poll_interval_s,
        api_urls=dict(spec.api_urls) or None,
        ws_url=spec.ws_url,
    )
    stream_id = f"{spec.exchange}.{spec.symbol}.{spec.channel}"
    data_type = StreamDataType.ORDER_BOOK if spec.channel == "book" else StreamDataType.MARKET_DATA
    sink = _book_sink(runtime, service) if spec.channel == "book" else None
    service.add_source(
        stream_id,
        feed,
        data_type=data_type,
        book_sink=sink,
        bar_interval_ns=settings.ingest.bar_interval_s * 10**9,
    )


def _book_sink(runtime: IngestRuntime, service: Any) -> Callable[[Any], None]:
    """ccxt hands over whole books (it sequences the venue's diffs itself): snapshots only."""
    from grekko.engines.books import BookManager, SnapshotsOnly

    manager = BookManager(service.bus, SnapshotsOnly(), request_snapshot=lambda _iid: None)
    runtime.summaries.append(lambda: {"books": manager.stats()})
    return manager.on_message


def _add_news(service: Any, runtime: IngestRuntime, settings: Settings, engine: Any) -> None:
    """The bundled news set first (history), then the configured RSS/Atom feeds, polled."""
    import asyncio

    from grekko.adapters.news.replay import NewsReplay
    from grekko.adapters.news.rss import FeedConfig, RssPoller
    from grekko.adapters.sql.news_store import SqlNewsStore
    from grekko.domain.streams import StreamSpec
    from grekko.engines.news_feed import NewsFeed
    from grekko.ml.sentiment import default_scorer

    store = SqlNewsStore(engine)
    feed = NewsFeed(service.bus, store, default_scorer(), clock=service.clock)
    service.streamer.create_stream(StreamSpec("news", StreamDataType.NEWS_FEED, "news"))
    news_metrics = service.streamer.metrics.stream("news")

    def stream_news(item: Any) -> None:
        now = service.clock.timestamp_ns()
        news_metrics.received += 1
        service.streamer.publish("news", item, now)
        news_metrics.on_published(now, item.published_at)

    service.bus.subscribe("news", stream_news)
    feeds = [FeedConfig(url) for url in settings.ingest.news_feeds]

    async def run_news() -> None:
        feed.ingest(NewsReplay())
        if not feeds:
            return
        poller = RssPoller(feeds)
        try:
            await poller.run(feed.ingest, asyncio.Event(), interval_s=settings.ingest.news_poll_s)
        finally:
            await poller.aclose()

    service.add_background(run_news)
    runtime.summaries.append(lambda: {"news": feed.stats.as_dict(), "news_stored": store.count()})
    runtime.renderables.append(lambda: _news_table(store))


def _news_table(store: Any) -> Any:
    from rich.table import Table

    from grekko.domain.news import NewsQuery

    table = Table(title="Latest news", expand=True)
    for header in ("published (UTC)", "assets", "sentiment", "title"):
        table.add_column(header)
    colours = {"positive": "green", "negative": "red", "neutral": "white"}
    for item in store.query(NewsQuery(limit=5)):
        when = ns_to_iso(item.published_at)[:16]
        label = f"[{colours[item.sentiment_label]}]{item.sentiment:+.2f}[/]"
        table.add_row(when, ",".join(item.assets), label, item.title[:90])
    return table


def _record_candles(
    service: Any, runtime: IngestRuntime, settings: Settings, venues: set[str]
) -> None:
    """Closed bars of live feeds go to the candle store, in batches, so history builds itself.

    Replays are not recorded: their bars are already files (`grekko data import` stores them).
    """
    import asyncio

    from grekko.core.ids import split_instrument_id
    from grekko.domain.candles import Timeframe

    store = open_candle_store(settings)
    pending: list[Any] = []
    written = [0]

    def on_bar(bar: Any) -> None:
        if split_instrument_id(bar.instrument_id)[1] in venues:
            pending.append(bar)

    def flush() -> None:
        batch, pending[:] = list(pending), []
        groups: dict[tuple[str, int], list[Any]] = {}
        for bar in batch:
            groups.setdefault((bar.instrument_id, bar.ts_event - bar.ts_open), []).append(bar)
        for (iid, interval), bars in groups.items():
            written[0] += store.write(iid, Timeframe.from_ns(interval), bars)

    async def flush_every_few_seconds() -> None:
        while True:
            await asyncio.sleep(5)
            flush()

    service.bus.subscribe("data.bars.*", on_bar)
    service.add_background(flush_every_few_seconds)
    runtime.closers.append(store.close)
    runtime.closers.append(flush)
    runtime.summaries.append(lambda: {"candles_recorded": written[0] + len(pending)})
