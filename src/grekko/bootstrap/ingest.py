"""Wiring for `grekko ingest`: the ingest service on a live clock with its sources and sinks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grekko.bootstrap.data import open_candle_store
from grekko.core.errors import ConfigError, DataError
from grekko.domain.streams import StreamDataType
from grekko.settings import Settings


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
    news_store: Any = None

    def extra_summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in self.summaries:
            out.update(part())
        return out

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
    runtime = IngestRuntime(service, [engine.dispose], [])
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
    service.streamer.relay("news", "news", lambda item: item.published_at)
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
    runtime.news_store = store


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
