"""`grekko ingest`: run the market data pipeline on replayed files and live feeds, and watch it.

Each source gets a stream; the view shows per stream the rate, the publish lag, what was
published, quarantined (by reason) and any sequence gaps, plus the latest indicators per
instrument. Quarantined records go to the database in the data dir. Ctrl-C stops; the final
metrics are printed as JSON on stdout (the view is on stderr).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import msgspec
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from grekko.bootstrap import IngestRuntime, IngestSources, build_ingest
from grekko.core.time import ns_to_iso
from grekko.domain.news import NewsQuery
from grekko.settings import Settings

REFRESH_S = 0.25


def run_ingest(
    settings: Settings, sources: IngestSources, *, duration: float | None, view: bool
) -> dict[str, Any]:
    runtime = build_ingest(settings, sources)
    try:
        summary = asyncio.run(_run(runtime, duration, view))
    finally:
        runtime.close()
    sys.stdout.write(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


async def _run(runtime: IngestRuntime, duration: float | None, view: bool) -> dict[str, Any]:
    task = asyncio.create_task(runtime.service.run())
    console = Console(stderr=True)
    live = Live(render(runtime), console=console, refresh_per_second=4) if view else None
    try:
        with live if live is not None else contextlib.nullcontext():
            await _wait(task, duration, runtime, live)
    except (KeyboardInterrupt, asyncio.CancelledError):
        task.cancel()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runtime.service.flush()
    return summary(runtime)


async def _wait(
    task: asyncio.Task[None], duration: float | None, runtime: IngestRuntime, live: Live | None
) -> None:
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    while not task.done():
        if deadline is not None and loop.time() >= deadline:
            return
        await asyncio.wait({task}, timeout=REFRESH_S)
        if live is not None:
            live.update(render(runtime))
    task.result()


def summary(runtime: IngestRuntime) -> dict[str, Any]:
    service = runtime.service
    return {
        "streams": [msgspec.to_builtins(s) for s in service.streamer.metrics.snapshot()],
        "quarantined_total": service.quarantine.total,
        "source_failures": service.source_failures,
        "indicators": {
            iid: msgspec.to_builtins(snapshot) for iid, snapshot in service.enricher.latest.items()
        },
        **runtime.extra_summary(),
    }


def render(runtime: IngestRuntime) -> Group:
    streams = Table(title="Streams", expand=True)
    for header in (
        "stream",
        "rate/s",
        "lag p50 ms",
        "lag p99 ms",
        "published",
        "quarantined",
        "gaps",
    ):
        streams.add_column(header, justify="right" if header != "stream" else "left")
    for s in runtime.service.streamer.metrics.snapshot():
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.quarantined_by_reason.items()))
        streams.add_row(
            s.stream_id,
            f"{s.rate_per_s:,.0f}",
            "replay" if s.lag_p50_ms is None else f"{s.lag_p50_ms:,.2f}",
            "replay" if s.lag_p99_ms is None else f"{s.lag_p99_ms:,.2f}",
            f"{s.published:,}",
            f"{s.quarantined:,}" + (f" ({reasons})" if reasons else ""),
            f"{s.gaps:,}",
        )
    indicators = Table(title="Indicators (last closed bar)", expand=True)
    for header in (
        "instrument",
        "close",
        "SMA",
        "EMA",
        "RSI",
        "MACD",
        "BB low/high",
        "ATR",
        "VWAP",
    ):
        indicators.add_column(header, justify="right" if header != "instrument" else "left")
    for iid, snap in sorted(runtime.service.enricher.latest.items()):
        indicators.add_row(
            iid,
            _fmt(snap.close),
            _fmt(snap.sma),
            _fmt(snap.ema),
            _fmt(snap.rsi, 1),
            _fmt(snap.macd),
            f"{_fmt(snap.bb_lower)} / {_fmt(snap.bb_upper)}",
            _fmt(snap.atr),
            _fmt(snap.vwap if snap.trade_vwap is None else snap.trade_vwap),
        )
    news = [] if runtime.news_store is None else [_news_table(runtime.news_store)]
    return Group(streams, indicators, *news)


def _news_table(store: Any) -> Table:
    table = Table(title="Latest news", expand=True)
    for header in ("published (UTC)", "assets", "sentiment", "title"):
        table.add_column(header)
    colours = {"positive": "green", "negative": "red", "neutral": "white"}
    for item in store.query(NewsQuery(limit=5)):
        label = f"[{colours.get(item.sentiment_label, 'white')}]{item.sentiment:+.2f}[/]"
        table.add_row(
            ns_to_iso(item.published_at)[:16], ",".join(item.assets), label, item.title[:90]
        )
    return table


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.2f}"
