"""The backtest report: one self-contained, offline HTML file (plotly.js embedded, no CDN).

A million-point equity curve would make a file nobody can open, so lines are decimated for
plotting: per bucket the minimum and maximum are kept (the shape of every swing survives), and so
are the first and last points and the peak and trough of the maximum drawdown. Trade markers are
all drawn up to MAX_MARKERS; beyond that an even sample is drawn and the page says so. Every
string that comes from the user (title, parameters) is HTML-escaped and never enters the figure.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from grekko.backtest.results import (
    FillRecord,
    Metrics,
    TradeStats,
    drawdown_series,
    max_drawdown_window,
)
from grekko.core.errors import DataError
from grekko.core.time import ns_to_iso

if TYPE_CHECKING:
    import plotly.graph_objects as go

MAX_LINE_POINTS = 20_000
MAX_MARKERS = 20_000
PLOT_DIV_ID = "grekko-backtest-plot"

_BUY_COLOUR = "#1a9850"
_SELL_COLOUR = "#d73027"


def decimation_indices(
    values: npt.NDArray[np.float64], max_points: int, keep: tuple[int, ...] = ()
) -> npt.NDArray[np.int64]:
    """Sorted indices to plot: first, last, each bucket's min and max, and the indices in keep."""
    n = int(values.size)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    n_buckets = max(1, (max_points - 2 - len(keep)) // 2)
    size = -(-n // n_buckets)
    n_buckets = -(-n // size)
    padded = np.pad(values, (0, n_buckets * size - n), mode="edge").reshape(n_buckets, size)
    starts = np.arange(n_buckets, dtype=np.int64) * size
    lows = np.minimum(starts + np.argmin(padded, axis=1), n - 1)
    highs = np.minimum(starts + np.argmax(padded, axis=1), n - 1)
    chosen = np.concatenate(([0, n - 1], lows, highs, np.asarray(keep, dtype=np.int64)))
    return np.unique(chosen)


def _as_utc_datetimes(ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
    """Naive datetime64 that plotly draws as given, i.e. in UTC (milliseconds: shorter text)."""
    return np.asarray(ts_ns, dtype=np.int64).view("datetime64[ns]").astype("datetime64[ms]")


@dataclass(frozen=True, slots=True)
class _Markers:
    ts_ns: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    qty: npt.NDArray[np.float64]
    is_buy: npt.NDArray[np.bool_]
    total: int


def _even_sample(indices: list[int], count: int) -> list[int]:
    if count >= len(indices):
        return indices
    if count <= 0:
        return []
    picks = np.unique(np.linspace(0, len(indices) - 1, count).round().astype(np.int64))
    return [indices[int(i)] for i in picks]


def sample_fills(fills: list[FillRecord], limit: int = MAX_MARKERS) -> list[FillRecord]:
    """Every fill up to limit, else an even sample of each side in proportion to its count.

    Sampling each side apart matters: a strategy that alternates buy and sell would otherwise
    alias with the sampling stride and show only one side.
    """
    if len(fills) <= limit:
        return fills
    buys = [i for i, fill in enumerate(fills) if fill.side == "buy"]
    sells = [i for i, fill in enumerate(fills) if fill.side != "buy"]
    n_buys = round(limit * len(buys) / len(fills))
    kept = _even_sample(buys, n_buys) + _even_sample(sells, limit - n_buys)
    return [fills[i] for i in sorted(kept)]


def _sample_markers(fills: list[FillRecord]) -> _Markers:
    chosen = sample_fills(fills)
    return _Markers(
        ts_ns=np.fromiter((f.ts_ns for f in chosen), dtype=np.int64, count=len(chosen)),
        price=np.fromiter((float(f.price) for f in chosen), dtype=np.float64, count=len(chosen)),
        qty=np.fromiter((float(f.qty) for f in chosen), dtype=np.float64, count=len(chosen)),
        is_buy=np.fromiter((f.side == "buy" for f in chosen), dtype=np.bool_, count=len(chosen)),
        total=len(fills),
    )


def _marker_trace(markers: _Markers, *, buy: bool) -> go.Scatter:
    import plotly.graph_objects as go

    mask = markers.is_buy if buy else ~markers.is_buy
    return go.Scatter(
        x=_as_utc_datetimes(markers.ts_ns[mask]),
        y=markers.price[mask],
        customdata=markers.qty[mask],
        mode="markers",
        name="buy" if buy else "sell",
        marker={
            "symbol": "triangle-up" if buy else "triangle-down",
            "size": 9,
            "color": _BUY_COLOUR if buy else _SELL_COLOUR,
            "line": {"width": 0.5, "color": "#333"},
        },
        hovertemplate=("buy" if buy else "sell") + " %{customdata} @ %{y}<extra></extra>",
    )


def _line(
    ts_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float64], keep: tuple[int, ...]
) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64], int]:
    picks = decimation_indices(values, MAX_LINE_POINTS, keep)
    return _as_utc_datetimes(ts_ns[picks]), values[picks], int(picks.size)


def _build_figure(
    ts_ns: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    price_ts_ns: npt.NDArray[np.int64],
    price_close: npt.NDArray[np.float64],
    markers: _Markers,
) -> tuple[go.Figure, int]:
    """Equity, drawdown and price panels on one shared UTC time axis; also the points drawn."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    drawdown_pct = drawdown_series(equity) * 100.0
    peak, trough = max_drawdown_window(drawdown_pct, equity)
    eq_x, eq_y, eq_n = _line(ts_ns, equity, (peak, trough))
    dd_x, dd_y, dd_n = _line(ts_ns, -drawdown_pct, (peak, trough))
    px_x, px_y, px_n = _line(price_ts_ns, price_close, ())
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.05,
        row_heights=[0.4, 0.2, 0.4],
        subplot_titles=("Equity", "Drawdown (%)", "Price and fills"),
    )
    fig.add_trace(go.Scatter(x=eq_x, y=eq_y, mode="lines", name="equity"), row=1, col=1)
    fig.add_trace(
        go.Scatter(x=dd_x, y=dd_y, mode="lines", fill="tozeroy", name="drawdown %",
                   line={"color": _SELL_COLOUR, "width": 1}),
        row=2, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=px_x, y=px_y, mode="lines", name="close", line={"color": "#555", "width": 1}),
        row=3, col=1,
    )  # fmt: skip
    fig.add_trace(_marker_trace(markers, buy=True), row=3, col=1)
    fig.add_trace(_marker_trace(markers, buy=False), row=3, col=1)
    if trough > peak:
        fig.add_vrect(
            x0=_as_utc_datetimes(ts_ns[peak : peak + 1])[0],
            x1=_as_utc_datetimes(ts_ns[trough : trough + 1])[0],
            fillcolor=_SELL_COLOUR, opacity=0.12, line_width=0, row=1, col=1,
            annotation_text="max drawdown", annotation_position="top left",
        )  # fmt: skip
    fig.update_xaxes(title_text="time (UTC)", row=3, col=1)
    fig.update_yaxes(ticksuffix="%", row=2, col=1)
    fig.update_layout(height=900, margin={"l": 60, "r": 20, "t": 40, "b": 40}, hovermode="x")
    return fig, eq_n + dd_n + px_n


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def _when(ts_ns: int | None) -> str:
    return ns_to_iso(ts_ns) if ts_ns is not None else "—"


def _metric_rows(metrics: Metrics, stats: TradeStats) -> list[tuple[str, str]]:
    return [
        ("Total return", _pct(metrics.total_return)),
        ("CAGR", _pct(metrics.cagr)),
        ("Max drawdown", _pct(metrics.max_drawdown)),
        ("Max drawdown from", _when(metrics.max_drawdown_start_ns)),
        ("Max drawdown to", _when(metrics.max_drawdown_end_ns)),
        ("Sharpe", f"{metrics.sharpe:.3f}"),
        ("Sortino", f"{metrics.sortino:.3f}"),
        ("Volatility (ann.)", _pct(metrics.volatility)),
        ("Equity points", f"{metrics.n_points:,}"),
        ("Fills", f"{stats.n_fills:,}"),
        ("Round trips", f"{stats.n_round_trips:,}"),
        ("Win rate", _pct(stats.win_rate)),
        ("Gross PnL", _money(stats.gross_pnl)),
        ("Fees", _money(stats.total_fees)),
        ("Net PnL", _money(stats.net_pnl)),
        ("Avg trade PnL", _money(stats.avg_trade_pnl)),
        ("Best trade", _money(stats.best_trade_pnl)),
        ("Worst trade", _money(stats.worst_trade_pnl)),
        ("Open quantity", str(stats.open_qty)),
    ]


def _money(value: Decimal) -> str:
    return f"{value:,.2f}" if value.is_finite() else str(value)


def _table(caption: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>" for key, value in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption>{body}</table>"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#222}
h1{font-size:1.4em;margin:0 0 8px}
.tables{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
table{border-collapse:collapse;font-size:13px}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f5f5f5;font-weight:500}
td{font-variant-numeric:tabular-nums}
.note{color:#666;font-size:12px;margin:6px 0}
"""


def _notes(drawn: int, n_lines: int, markers: _Markers) -> str:
    notes = []
    if drawn < n_lines:
        notes.append(
            f"Lines drawn with {drawn:,} of {n_lines:,} points (minimum and maximum of each "
            "bucket kept, and the peak and trough of the maximum drawdown); metrics use every "
            "point."
        )
    if markers.total > markers.ts_ns.size:
        notes.append(
            f"{markers.ts_ns.size:,} of {markers.total:,} fills are marked (an even sample); "
            "trade statistics use every fill."
        )
    return "".join(f'<p class="note">{html.escape(text)}</p>' for text in notes)


def _float_array(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{name} must be a one-dimensional array")
    return array


def _int_array(values: npt.ArrayLike, name: str, length: int) -> npt.NDArray[np.int64]:
    array = np.asarray(values, dtype=np.int64)
    if array.shape != (length,):
        raise DataError(f"{name} must be one-dimensional with {length} values, got {array.shape}")
    return array


def write_html_report(
    path: Path,
    *,
    title: str,
    ts_ns: npt.ArrayLike,
    equity: npt.ArrayLike,
    price_ts_ns: npt.ArrayLike,
    price_close: npt.ArrayLike,
    fills: list[FillRecord],
    metrics: Metrics,
    trade_stats: TradeStats,
    params: dict[str, str],
) -> Path:
    """Write the report to path (parents created) and return path."""
    equity_f = _float_array(equity, "equity")
    close_f = _float_array(price_close, "price_close")
    ts_i = _int_array(ts_ns, "ts_ns", equity_f.size)
    price_ts_i = _int_array(price_ts_ns, "price_ts_ns", close_f.size)
    markers = _sample_markers(fills)
    fig, drawn = _build_figure(ts_i, equity_f, price_ts_i, close_f, markers)
    plot = fig.to_html(
        full_html=False, include_plotlyjs=True, div_id=PLOT_DIV_ID, config={"responsive": True}
    )
    param_rows = [(str(key), str(value)) for key, value in params.items()]
    safe_title = html.escape(title)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{safe_title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{safe_title}</h1>"
        f'<div class="tables">{_table("Results", _metric_rows(metrics, trade_stats))}'
        f"{_table('Parameters', param_rows)}</div>"
        f"{_notes(drawn, 2 * equity_f.size + close_f.size, markers)}"
        f"{plot}</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
