"""The live terminal view of `grekko up`: progress, equity and PnL, balances, positions, orders.

It renders a SessionStatus (never the kernel itself) and refreshes from the session's own thread,
a few times per second at most, so drawing costs nothing per bar at high replay speeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from grekko.core.time import ns_to_iso
from grekko.paper.status import SessionStatus

REFRESH_S = 0.25
_STATE_STYLE = {"active": "green", "reducing": "yellow", "halted": "bold red"}
_STATUS_STYLE = {
    "filled": "green",
    "denied": "red",
    "rejected": "red",
    "canceled": "yellow",
    "expired": "yellow",
}


def _money(value: Decimal, places: int = 2) -> str:
    return f"{value:,.{places}f}"


def _signed(value: Decimal) -> Text:
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(f"{value:+,.2f}", style=style)


def _header(s: SessionStatus) -> RenderableType:
    p = s.progress
    line = Text.assemble(
        ("replay time ", "dim"),
        ns_to_iso(p.now_ns)[:19].replace("T", " "),
        ("  speed ", "dim"),
        f"{p.speed:g} bars/s",
        ("  phase ", "dim"),
        (p.phase, "cyan"),
        ("  trading ", "dim"),
        (s.trading_state.upper(), _STATE_STYLE.get(s.trading_state, "")),
    )
    if p.warmup:
        line.append(f"  (resumed after {p.warmup:,} bars of warm-up)", style="dim")
    money = Text.assemble(
        ("equity ", "dim"),
        (f"{_money(s.equity)} {s.cash_currency}", "bold"),
        ("  PnL ", "dim"),
        _signed(s.pnl),
        f" ({s.pnl_pct:+.3f}%)",
        ("  fees ", "dim"),
        _money(s.fees),
        ("  orders ", "dim"),
        str(s.orders),
        ("  fills ", "dim"),
        str(s.fills),
    )
    return Group(line, _progress_row(p.processed, p.total), money)


def _progress_row(processed: int, total: int) -> RenderableType:
    done = processed / total if total else 1.0
    row = Table.grid(expand=True, padding=(0, 1))
    row.add_column(ratio=1)
    row.add_column(justify="right")
    row.add_row(
        ProgressBar(total=max(total, 1), completed=processed),
        f"bars {processed:,}/{total:,} ({done:.1%})",
    )
    return row


def _balances(s: SessionStatus) -> Table:
    table = Table(title="Balances", title_justify="left", expand=True)
    table.add_column("currency")
    table.add_column("total", justify="right")
    for currency, amount in s.balances:
        table.add_row(currency, _money(amount, 8 if currency != s.cash_currency else 2))
    return table


def _positions(s: SessionStatus) -> Table:
    table = Table(title="Positions", title_justify="left", expand=True)
    for name in ("instrument", "qty", "avg px", "mark", "unrealized", "realized"):
        table.add_column(name, justify="left" if name == "instrument" else "right")
    for row in s.positions:
        table.add_row(
            row.instrument_id,
            f"{row.quantity.normalize():f}",
            _money(row.avg_px) if row.quantity else "-",
            _money(row.mark) if row.mark is not None else "-",
            _signed(row.unrealized),
            _signed(row.realized),
        )
    return table


def _orders(s: SessionStatus) -> Table:
    table = Table(title="Last orders", title_justify="left", expand=True)
    for name in (
        "order",
        "updated",
        "instrument",
        "side",
        "type",
        "qty",
        "status",
        "filled",
        "avg px",
    ):
        table.add_column(name, justify="right" if name in ("qty", "filled", "avg px") else "left")
    for row in s.recent_orders:
        side_style = "green" if row.side == "buy" else "red"
        table.add_row(
            row.client_order_id,
            ns_to_iso(row.ts_last)[5:19].replace("T", " "),
            row.instrument_id,
            Text(row.side, style=side_style),
            row.order_type,
            f"{row.quantity:f}",
            Text(row.status, style=_STATUS_STYLE.get(row.status, "")),
            f"{row.filled_qty:f}",
            _money(row.avg_px) if row.filled_qty else "-",
        )
    return table


def render(s: SessionStatus) -> RenderableType:
    title = f"grekko paper · {', '.join(s.strategies) or 'no strategy'}"
    tables = Table.grid(expand=True, padding=(0, 1))
    tables.add_column(ratio=1)
    tables.add_column(ratio=2)
    tables.add_row(_balances(s), _positions(s))
    return Panel(
        Group(_header(s), tables, _orders(s)),
        title=title,
        subtitle="Ctrl-C stops; the session resumes where it left off",
    )


class LiveView:
    """Redraws at most every REFRESH_S seconds when `tick` is called."""

    def __init__(self, snapshot: Callable[[], SessionStatus], console: Console) -> None:
        self._snapshot = snapshot
        self._live = Live(console=console, auto_refresh=False, transient=False)
        self._last = 0.0

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        self.refresh()
        return self

    def __exit__(self, *exc: object) -> None:
        self.refresh()
        self._live.__exit__(None, None, None)

    def tick(self) -> None:
        if time.monotonic() - self._last >= REFRESH_S:
            self.refresh()

    def refresh(self) -> None:
        self._live.update(render(self._snapshot()), refresh=True)
        self._last = time.monotonic()
