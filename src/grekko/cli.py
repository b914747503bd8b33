"""`grekko` command line: backtest, up (paper session), data (candle store), and shared settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from grekko.commands.agents import (
    AgentParamOption,
    AgentsOption,
    AutoConfirmOption,
    agent_options,
    agents_app,
)
from grekko.commands.agents import decimal_option as _decimal
from grekko.commands.devnet import devnet_app
from grekko.core.errors import GrekkoError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Grekko: one kernel for backtest, paper and live trading.",
)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where database, logs and settings live (default: $GREKKO_DATA_DIR or ~/.grekko).",
    ),
]


def _params(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--param takes key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


@app.command()
def backtest(
    data: Annotated[
        list[Path],
        typer.Option("--data", help="Bar file (CSV, CSV.gz, Parquet); repeat for several."),
    ],
    strategy: Annotated[str, typer.Option(help="Strategy plugin name.")] = "sma_cross",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Strategy parameter key=value; repeatable.")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="Symbol such as BTC/USDT (default: from the file name).")
    ] = None,
    quantity: Annotated[str, typer.Option(help="Order quantity in base units.")] = "1",
    fee: Annotated[
        str, typer.Option(help="Fee rate per fill, as a fraction of notional.")
    ] = "0.001",
    cash: Annotated[str, typer.Option(help="Starting cash.")] = "10000000",
    currency: Annotated[str, typer.Option(help="Cash currency.")] = "USDT",
    slippage_bps: Annotated[str, typer.Option(help="Slippage in basis points.")] = "0",
    latency_ms: Annotated[int, typer.Option(help="Order latency to the simulated venue.")] = 0,
    volume_participation: Annotated[
        str | None, typer.Option(help="Max share of a bar's volume per fill (0-1].")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json-out", help="Write results as JSON here.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report with plots here.")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    agents: AgentsOption = None,
    auto_confirm: AutoConfirmOption = False,
    agent_param: AgentParamOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run a strategy, or agents (--agents), over historical bars through the same kernel paper
    and live trading use."""
    from grekko.commands.backtest import BacktestRequest, run_backtest
    from grekko.settings import load_settings

    chosen = agent_options(agents, auto_confirm, agent_param or [], strategy_params=bool(param))
    settings = load_settings(data_dir)
    paper = settings.paper.model_copy(
        update={
            "slippage_bps": _decimal(slippage_bps, "--slippage-bps"),
            "latency_ms": latency_ms,
            "volume_participation": _decimal(volume_participation, "--volume-participation")
            if volume_participation
            else None,
        }
    )
    request = BacktestRequest(
        files=tuple(data),
        strategy=strategy,
        params=_params(param or []),
        symbol=symbol,
        quantity=_decimal(quantity, "--quantity"),
        fee=_decimal(fee, "--fee"),
        cash=_decimal(cash, "--cash"),
        currency=currency,
        risk=settings.risk,
        paper=paper,
        json_out=json_out,
        report=report,
        progress=progress,
        agents=chosen.names,
        auto_confirm=chosen.auto_confirm,
        agent_params=chosen.params,
    )
    summary = run_backtest(request)
    typer.echo(json.dumps(summary, indent=1))


@app.command()
def up(
    data_dir: DataDirOption = None,
    speed: Annotated[float | None, typer.Option(help="Replay speed in bars per second.")] = None,
    max_bars: Annotated[
        int | None,
        typer.Option(
            help="Stop when the replay reaches this bar, counted from its start (restarts keep counting)."
        ),
    ] = None,
    view: Annotated[
        bool,
        typer.Option(
            "--view/--no-view",
            help="Live terminal view (with --no-serve) of positions, PnL, orders.",
        ),
    ] = True,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="Serve the API and UI (default) or run the terminal session only.",
        ),
    ] = True,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default 8000).")] = None,
    devnet: Annotated[
        bool | None,
        typer.Option(
            "--devnet/--no-devnet",
            help="Start the local chain with Uniswap and Aave and trade on it (default: on, "
            "as chain.enabled says).",
        ),
    ] = None,
) -> None:
    """Start Grekko: the paper-trading kernel replaying real data, served on http://127.0.0.1:8000."""
    from grekko.commands.up import run_up
    from grekko.settings import load_settings

    overrides: dict[str, object] = {
        k: v for k, v in (("host", host), ("port", port)) if v is not None
    }
    settings = load_settings(data_dir)
    if devnet is not None:
        overrides["chain"] = settings.chain.model_copy(update={"enabled": devnet})
    if overrides:
        settings = settings.model_copy(update=overrides)
    run_up(settings, speed=speed, max_bars=max_bars, view=view, serve=serve)


# ---- grekko serve: one service of the scaled-out platform ---------------------------------------
@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="gateway | ingest | agents | risk | execution")],
    data_dir: DataDirOption = None,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Port (default: gateway 8000, ingest 8001, agents 8002, risk 8003, execution 8004).",
        ),
    ] = None,
    speed: Annotated[
        float | None, typer.Option(help="ingest: replay speed in bars per second.")
    ] = None,
    max_bars: Annotated[
        int | None, typer.Option(min=1, help="ingest: stop after this many bars.")
    ] = None,
    instance: Annotated[
        int | None,
        typer.Option(min=0, help="This process's instance (execution/agents: its partition)."),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(min=1, help="How many execution/agents partitions the platform runs."),
    ] = None,
) -> None:
    """Run one service; the others join it through Redis Streams and the shared event store."""
    from grekko.bootstrap.services import DEFAULT_PORTS, SERVICES
    from grekko.commands.serve import run_serve
    from grekko.settings import load_settings

    if service not in SERVICES:
        raise typer.BadParameter(f"one of {', '.join(SERVICES)}", param_hint="SERVICE")
    settings = load_settings(data_dir)
    overrides: dict[str, object] = {
        "port": port if port is not None else DEFAULT_PORTS[service],
        "chain": settings.chain.model_copy(update={"enabled": False}),
    }
    if host is not None:
        overrides["host"] = host
    serve_changes = {
        k: v for k, v in (("instance", instance), ("partitions", partitions)) if v is not None
    }
    if serve_changes:
        overrides["serve"] = settings.serve.model_copy(update=serve_changes)
    run_serve(service, settings.model_copy(update=overrides), speed=speed, max_bars=max_bars)


# ---- grekko ingest: the market data pipeline ----------------------------------------------------
def _file_and_symbol(text: str) -> tuple[Path, str | None]:
    path, sep, symbol = text.rpartition("=")
    if not sep or "/" not in symbol:
        return Path(text), None
    return Path(path), symbol.strip().upper()


@app.command()
def ingest(
    replay: Annotated[
        list[str] | None,
        typer.Option(
            help="A bar or trade file to replay, FILE or FILE=SYMBOL (repeatable); a trade "
            "file needs its symbol, a bar file's comes from its name unless given."
        ),
    ] = None,
    venue: Annotated[str, typer.Option(help="Venue name given to replayed data.")] = "replay",
    speed: Annotated[
        float | None,
        typer.Option(help="Replay speed: 1 = real time, 60 = a minute per second; default: max."),
    ] = None,
    loop: Annotated[bool, typer.Option(help="Start replays over at their end.")] = False,
    exchange: Annotated[
        str | None, typer.Option(help="A ccxt exchange id for a live feed (coinbase, ...).")
    ] = None,
    market: Annotated[
        list[str] | None, typer.Option(help="Live feed symbol, e.g. BTC/USD (repeatable).")
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option(help="trades, ohlcv, ticker or book (repeatable).")
    ] = None,
    rest: Annotated[bool, typer.Option(help="Poll REST instead of WebSocket.")] = False,
    api_url: Annotated[
        list[str] | None, typer.Option(help="Override a REST endpoint: URL or NAME=URL.")
    ] = None,
    ws_url: Annotated[str | None, typer.Option(help="Override the WebSocket endpoint.")] = None,
    news: Annotated[
        bool, typer.Option(help="Also ingest news: the bundled set and ingest.news_feeds.")
    ] = False,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run to the end).")
    ] = None,
    view: Annotated[bool, typer.Option("--view/--no-view", help="Live terminal view.")] = True,
    data_dir: DataDirOption = None,
) -> None:
    """Run the market data pipeline (normalize, validate, enrich, publish) and watch its streams."""
    from grekko.bootstrap import IngestSources, LiveFeedSpec, ReplaySpec
    from grekko.commands.ingest import run_ingest
    from grekko.settings import load_settings

    replays = tuple(
        ReplaySpec(path, symbol=sym, venue=venue, speed=speed, loop=loop)
        for path, sym in (_file_and_symbol(text) for text in replay or [])
    )
    if (exchange is None) != (not market):
        raise typer.BadParameter("a live feed needs both --exchange and --market")
    urls = tuple(_api_urls(api_url or []).items())
    live = tuple(
        LiveFeedSpec(exchange, m, ch, websocket=not rest, api_urls=urls, ws_url=ws_url)
        for m in market or []
        for ch in channel or ["trades"]
        if exchange is not None
    )
    sources = IngestSources(replays=replays, live=live, news=news)
    run_ingest(load_settings(data_dir), sources, duration=duration, view=view)


def _add_user_commands() -> None:
    from grekko.commands.user import user_app

    app.add_typer(user_app, name="user", help="Users of the API: add, list, roles, passwords.")


_add_user_commands()
app.add_typer(agents_app, name="agents", help="The trading agents: evaluate them on real data.")
app.add_typer(devnet_app, name="devnet", help="The local devnet (anvil): up, down, status, reset.")


# ---- grekko data: the candle store --------------------------------------------------------------
data_app = typer.Typer(
    no_args_is_help=True,
    help="Candles at rest: import files, fetch venue history, show, check for gaps.",
)
app.add_typer(data_app, name="data")

SymbolOption = Annotated[
    str,
    typer.Option(
        help="Symbol such as BTC/USDT (with --venue), or an instrument id BTC/USDT@binance."
    ),
]
VenueOption = Annotated[str, typer.Option(help="Venue the bars come from.")]
TimeframeOption = Annotated[str, typer.Option(help="Bar length: 1m, 5m, 15m, 1h, 4h, 1d.")]
SinceOption = Annotated[
    str | None, typer.Option(help="From this UTC date or date-time (ISO 8601), inclusive.")
]
UntilOption = Annotated[
    str | None, typer.Option(help="Up to this UTC date or date-time (ISO 8601), exclusive.")
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Show a progress bar on long work.")
]


def _api_urls(values: list[str]) -> dict[str, str]:
    urls: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep:
            name, url = "rest", value
        if not url.startswith(("http://", "https://")):
            raise typer.BadParameter(f"--api-url takes URL or NAME=URL (http/https), got {value!r}")
        urls[name.strip()] = url.strip()
    return urls


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="Bar file: CSV, CSV.gz or Parquet.")],
    symbol: Annotated[
        str | None, typer.Option(help="Symbol such as BTC/USDT (default: from the file name).")
    ] = None,
    venue: VenueOption = "binance",
    timeframe: Annotated[
        str, typer.Option(help="auto (the file's bar length) or a multiple of it to resample to.")
    ] = "auto",
    progress: ProgressOption = True,
    data_dir: DataDirOption = None,
) -> None:
    """Load a bar file, check every row, and upsert it into the candle store in one transaction."""
    from rich.console import Console

    from grekko.commands.data import ImportRequest, import_file
    from grekko.settings import load_settings

    request = ImportRequest(file, symbol, venue, timeframe, progress)
    summary = import_file(load_settings(data_dir), request, Console(stderr=True))
    typer.echo(json.dumps(summary, indent=1))


@data_app.command("fetch")
def data_fetch(
    exchange: Annotated[str, typer.Option(help="ccxt exchange id: coinbase, binance, kraken...")],
    symbol: Annotated[str, typer.Option(help="Symbol in ccxt form, such as BTC/USD.")],
    since: Annotated[str, typer.Option(help="From this UTC date or date-time (ISO 8601).")],
    timeframe: TimeframeOption = "1h",
    until: UntilOption = None,
    api_url: Annotated[
        list[str] | None,
        typer.Option("--api-url", help="Replace the venue's REST endpoint: URL or NAME=URL."),
    ] = None,
    progress: ProgressOption = True,
    data_dir: DataDirOption = None,
) -> None:
    """Download a venue's candle history through ccxt into the candle store, page by page."""
    from rich.console import Console

    from grekko.commands.data import FetchRequest, fetch_history
    from grekko.settings import load_settings

    request = FetchRequest(
        exchange, symbol, timeframe, since, until, _api_urls(api_url or []), progress
    )
    summary = fetch_history(load_settings(data_dir), request, Console(stderr=True))
    typer.echo(json.dumps(summary, indent=1))


@data_app.command("show")
def data_show(
    symbol: SymbolOption,
    venue: VenueOption = "binance",
    timeframe: TimeframeOption = "1m",
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(help="At most this many bars.")] = 20,
    data_dir: DataDirOption = None,
) -> None:
    """Print stored bars (resampled on read if the timeframe is not stored); newest if no --since."""
    from rich.console import Console

    from grekko.commands.data import resolve_instrument, show_bars
    from grekko.settings import load_settings

    iid = resolve_instrument(symbol, venue)
    table = show_bars(load_settings(data_dir), iid, timeframe, since, until, limit)
    Console(width=120).print(table)


@data_app.command("gaps")
def data_gaps(
    symbol: SymbolOption,
    venue: VenueOption = "binance",
    timeframe: TimeframeOption = "1m",
    since: SinceOption = None,
    until: UntilOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Report missing bars of a stored series (every gap, as [from, to) ranges)."""
    from grekko.commands.data import gaps, resolve_instrument
    from grekko.settings import load_settings

    iid = resolve_instrument(symbol, venue)
    typer.echo(json.dumps(gaps(load_settings(data_dir), iid, timeframe, since, until), indent=1))


@data_app.command("list")
def data_list(data_dir: DataDirOption = None) -> None:
    """Every stored series: instrument, timeframe, bar count, first and last bar."""
    from rich.console import Console

    from grekko.commands.data import list_series
    from grekko.settings import load_settings

    Console(width=120).print(list_series(load_settings(data_dir)))


def main() -> None:
    try:
        app()
    except GrekkoError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
