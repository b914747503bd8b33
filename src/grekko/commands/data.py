"""`grekko data`: import bar files and fetch venue history into the candle store, show and check it.

An import is validated whole before the store is touched (load_bars checks every row) and written
in one transaction, so a bad file leaves nothing behind. A fetch instead writes page by page: a
long download that fails halfway keeps what it got, and the upsert makes running it again safe.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from grekko.bootstrap import (
    load_bar_file,
    ohlcv_history,
    open_candle_store,
    open_history_exchange,
)
from grekko.core.errors import ConfigError, DataError
from grekko.core.ids import instrument_id, split_instrument_id
from grekko.core.time import NS_PER_MS, ns_to_iso
from grekko.domain.candles import GapReport, Timeframe, check_raw_bars, resample
from grekko.domain.data import Bar
from grekko.ports.candles import CandleStore
from grekko.settings import Settings

PROGRESS_MIN_ROWS = 20_000  # smaller files import in a blink; a bar would only flicker
SHOWN_GAPS = 10
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9]+(:[A-Za-z0-9]+)?$")
_VENUE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")


@dataclass(frozen=True)
class ImportRequest:
    file: Path
    symbol: str | None = None
    venue: str = "binance"
    timeframe: str = "auto"
    progress: bool = True


@dataclass(frozen=True)
class FetchRequest:
    exchange: str
    symbol: str
    timeframe: str
    since: str
    until: str | None = None
    api_urls: Mapping[str, str] = field(default_factory=dict)
    progress: bool = True


def import_file(settings: Settings, req: ImportRequest, console: Console) -> dict[str, Any]:
    """Load, check, store in one transaction; returns the summary that is printed."""
    venue = check_venue(req.venue)
    arrays = load_bar_file(req.file, req.symbol)
    file_tf = Timeframe.from_ns(arrays.interval_ns)
    target = file_tf if req.timeframe == "auto" else Timeframe.parse(req.timeframe)
    iid = instrument_id(arrays.symbol, venue)
    columns = (arrays.open, arrays.high, arrays.low, arrays.close, arrays.volume)
    bars: list[Bar] | None = None
    if target != file_tf:
        if not (file_tf < target and file_tf.divides(target)):
            raise ConfigError(
                f"{req.file.name} holds {file_tf.label} bars: --timeframe {target.label} cannot be "
                f"made from them (use auto, or a multiple of {file_tf.label})"
            )
        bars = resample(_file_bars(iid, arrays.ts_open_ns.tolist(), columns, file_tf), target)
    total = len(arrays) if bars is None else len(bars)
    with open_store(settings) as store, _progress(console, "import", total, req.progress) as tick:
        if bars is None:
            written = store.write_columns(iid, target, arrays.ts_open_ns, columns, on_progress=tick)
        else:
            written = store.write(iid, target, bars, on_progress=tick)
        first = int(arrays.ts_open_ns[0])
        end = int(arrays.ts_open_ns[-1]) + file_tf.ns
        report = store.gap_report(iid, target, start_ns=target.floor(first), end_ns=end)
    return {
        "instrument": iid,
        "timeframe": target.label,
        "file": str(req.file),
        "file_rows": len(arrays),
        "written": written,
        **gap_summary(report),
    }


def fetch_history(settings: Settings, req: FetchRequest, console: Console) -> dict[str, Any]:
    """Download [since, until) page by page through ccxt; each page is checked and upserted."""
    venue = check_venue(req.exchange)
    symbol = check_symbol(req.symbol)
    tf = Timeframe.parse(req.timeframe)
    since_ns = tf.ceil(parse_time(req.since, "--since"))
    until_ns = parse_time(req.until, "--until") if req.until else None
    now_ns = time.time_ns()
    end_ns = min(until_ns, now_ns) if until_ns is not None else now_ns
    if end_ns <= since_ns:
        raise ConfigError(f"--since {req.since} is not before --until/now ({ns_to_iso(end_ns)})")
    iid = instrument_id(symbol, venue)
    expected = max(1, (tf.floor(end_ns) - since_ns) // tf.ns)
    with open_store(settings) as store, _progress(console, "fetch", expected, req.progress) as tick:
        stats = asyncio.run(_fetch(store, req, iid, tf, (since_ns, end_ns), tick))
        report = store.gap_report(iid, tf, start_ns=since_ns, end_ns=tf.floor(end_ns))
    return {"instrument": iid, "timeframe": tf.label, **stats, **gap_summary(report)}


async def _fetch(
    store: CandleStore,
    req: FetchRequest,
    iid: str,
    tf: Timeframe,
    window: tuple[int, int],
    tick: Callable[[int], None],
) -> dict[str, Any]:
    since_ns, end_ns = window
    symbol = iid.rpartition("@")[0]
    received = written = pages = outside = 0
    rejected: dict[str, int] = {}

    def on_page(_rows_so_far: int, last_ts_ms: int) -> None:
        tick((last_ts_ms * NS_PER_MS + tf.ns - since_ns) // tf.ns)

    async with open_history_exchange(req.exchange, req.api_urls or None) as exchange:
        history = ohlcv_history(
            exchange,
            symbol,
            tf.label,
            since_ns // NS_PER_MS,
            until_ms=end_ns // NS_PER_MS,
            on_page=on_page,
        )
        async for page in history:
            pages += 1
            received += len(page)
            checked = check_raw_bars(page, iid, tf)
            for reason, count in checked.rejected.items():
                rejected[reason] = rejected.get(reason, 0) + count
            bars = [b for b in checked.bars if since_ns <= b.ts_open and b.ts_event <= end_ns]
            outside += len(checked.bars) - len(bars)
            if bars:
                written += store.write(iid, tf, bars)
    tick((end_ns - since_ns) // tf.ns)
    return {
        "pages": pages,
        "received": received,
        "written": written,
        "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected,
        "outside_window": outside,
    }


def show_bars(
    settings: Settings,
    instrument: str,
    timeframe: str,
    since: str | None,
    until: str | None,
    limit: int,
) -> Table:
    """A table of bars (resampled on read if the timeframe is not stored); newest if no --since."""
    if limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    tf = Timeframe.parse(timeframe)
    start = parse_time(since, "--since") if since else None
    end = parse_time(until, "--until") if until else None
    with open_store(settings) as store:
        if start is None:
            last = store.last_ts(instrument, tf)
            if last is None:
                raise DataError(f"no {tf.label} bars stored for {instrument}")
            bars = store.range(instrument, tf, last - limit * tf.ns, end)[-limit:]
        else:
            bars = store.range(instrument, tf, start, end, limit)
    table = Table(title=f"{instrument} {tf.label}")
    for name in ("open (UTC)", "open", "high", "low", "close", "volume"):
        table.add_column(name, justify="left" if name.endswith(")") else "right")
    for bar in bars:
        prices = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        table.add_row(_iso(bar.ts_open), *(f"{p:,.8g}" for p in prices))
    return table


def gaps(
    settings: Settings, instrument: str, timeframe: str, since: str | None, until: str | None
) -> dict[str, Any]:
    tf = Timeframe.parse(timeframe)
    start = parse_time(since, "--since") if since else None
    end = parse_time(until, "--until") if until else None
    with open_store(settings) as store:
        report = store.gap_report(instrument, tf, start, end)
    return {"instrument": instrument, "timeframe": tf.label, **gap_summary(report, limit=None)}


def list_series(settings: Settings) -> Table:
    table = Table(title="stored candles")
    for name in ("instrument", "timeframe", "bars", "first (UTC)", "last (UTC)"):
        table.add_column(name)
    with open_store(settings) as store:
        for info in store.series():
            table.add_row(
                info.instrument_id,
                info.timeframe.label,
                f"{info.bars:,}",
                _iso(info.first_ns),
                _iso(info.last_ns),
            )
    return table


# ---- helpers --------------------------------------------------------------------------------------
@contextmanager
def open_store(settings: Settings) -> Iterator[CandleStore]:
    store = open_candle_store(settings)
    try:
        yield store
    finally:
        store.close()


def gap_summary(report: GapReport, limit: int | None = SHOWN_GAPS) -> dict[str, Any]:
    shown = report.gaps if limit is None else report.gaps[:limit]
    return {
        "stored_bars": report.bars,
        "first": _iso(report.first_ns),
        "last": _iso(report.last_ns),
        "expected": report.expected,
        "missing": report.missing,
        "gaps": len(report.gaps),
        "gap_ranges": [
            {"from": _iso(g.start_ns), "to": _iso(g.end_ns), "missing": g.missing} for g in shown
        ],
    }


def resolve_instrument(symbol: str, venue: str) -> str:
    """`BTC/USDT` plus --venue, or a whole instrument id `BTC/USDT@binance`."""
    if "@" in symbol:
        try:
            sym, ven = split_instrument_id(symbol)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return instrument_id(check_symbol(sym), check_venue(ven))
    return instrument_id(check_symbol(symbol), check_venue(venue))


def check_symbol(symbol: str) -> str:
    if not _SYMBOL_RE.match(symbol):
        raise ConfigError(f"symbol must be ccxt unified form like BTC/USDT, got {symbol!r}")
    return symbol.upper()


def check_venue(venue: str) -> str:
    if not _VENUE_RE.match(venue):
        raise ConfigError(f"venue must be a lower-case id like binance or coinbase, got {venue!r}")
    return venue


def parse_time(text: str, option: str) -> int:
    """ISO 8601 date or date-time; without a zone it is UTC (market data has no local time)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} must be an ISO 8601 date or date-time like 2024-01-01 or "
            f"2024-01-01T12:00:00Z, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def _iso(ts_ns: int | None) -> str:
    return "-" if ts_ns is None else ns_to_iso(ts_ns).replace(".000000Z", "Z")


def _file_bars(
    iid: str, ts_open: list[int], columns: tuple[Any, ...], tf: Timeframe
) -> Iterator[Bar]:
    size = tf.ns
    values = zip(*(col.tolist() for col in columns), strict=True)
    for ts, (o, h, lo, c, v) in zip(ts_open, values, strict=True):
        yield Bar(iid, o, h, lo, c, v, ts, ts + size)


@contextmanager
def _progress(
    console: Console, label: str, total: int, enabled: bool
) -> Iterator[Callable[[int], None]]:
    """A rich bar on stderr for big jobs; a no-op callback otherwise."""
    if not enabled or (total < PROGRESS_MIN_ROWS and label == "import"):
        yield lambda _done: None
        return
    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=min(done, total))
