"""The agent evaluation written out: JSON, and one self-contained offline HTML report.

It puts the ensemble next to each trading agent run alone (with the advisors voting) and next to
buy-and-hold of the same instruments: equity curves, drawdowns, each agent's own PnL inside the
ensemble, a metrics table, a decisions table and one plain sentence per row. The sentences say
what happened, a loss as a loss; they are built from the same numbers as the tables.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from grekko.backtest.agent_eval import (
    BUY_AND_HOLD,
    ENSEMBLE,
    AgentAttribution,
    Decisions,
    RunMetrics,
    RunResult,
)
from grekko.backtest.report import decimation_indices
from grekko.backtest.results import drawdown_series
from grekko.core.time import ns_to_iso

if TYPE_CHECKING:
    import plotly.graph_objects as go

PLOT_DIV_ID = "grekko-agent-evaluation-plot"
MAX_POINTS_PER_LINE = 5_000
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#222}
h1{font-size:1.4em;margin:0 0 8px} h2{font-size:1.1em;margin:18px 0 6px}
table{border-collapse:collapse;font-size:13px;margin-bottom:12px}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5;font-weight:500} td{font-variant-numeric:tabular-nums}
li{margin:3px 0} .note{color:#666;font-size:12px;margin:6px 0}
"""


# ---- words -------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def _signed_pct(value: float) -> str:
    return f"{value * 100:+.2f} %"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _span(result: RunResult) -> str:
    ts = result.curve.ts_ns
    return f"{ns_to_iso(int(ts[0]))[:10]} to {ns_to_iso(int(ts[-1]))[:10]}"


def _result_words(m: RunMetrics, currency: str) -> str:
    if m.fills == 0:
        return "made no trades, so it stayed flat"
    if m.pnl == 0:
        return "broke even"
    verb = "gained" if m.pnl > 0 else "lost"
    return f"{verb} {abs(m.total_return) * 100:.2f} % ({_money(abs(m.pnl))} {currency})"


def _versus(m: RunMetrics, benchmark: RunResult | None) -> str:
    if benchmark is None:
        return ""
    gap = m.total_return - benchmark.metrics.total_return
    where = "ahead of" if gap > 0 else "behind"
    return (
        f", {abs(gap) * 100:.2f} percentage points {where} buy-and-hold "
        f"({_signed_pct(benchmark.metrics.total_return)})"
    )


def _details(m: RunMetrics) -> str:
    parts = [
        f"Sharpe {m.sharpe:.2f}",
        f"max drawdown {_pct(m.max_drawdown)}",
        f"on average {_pct(m.exposure)} of equity in positions",
    ]
    if m.round_trips:
        parts.append(f"{_pct(m.hit_rate)} of {m.round_trips:,} round trips won net of fees")
    if m.proposals:
        parts.append(f"{_pct(m.approval_rate)} of {m.proposals:,} proposals approved")
    if m.fees:
        parts.append(f"fees {_money(m.fees)}")
    return "; ".join(parts)


def run_sentence(result: RunResult, benchmark: RunResult | None, currency: str) -> str:
    label = _label(result)
    versus = _versus(result.metrics, benchmark) if result.kind != BUY_AND_HOLD else ""
    return (
        f"{label} {_result_words(result.metrics, currency)} from {_span(result)}{versus}. "
        f"{_details(result.metrics)}."
    )


def agent_sentence(run: RunResult, a: AgentAttribution, currency: str) -> str:
    where = f"{a.agent_id} inside {run.name}"
    if not a.trades:
        return f"{where} is advisory: it voted on the proposals and never traded."
    m = a.metrics
    if m.fills == 0:
        return f"{where} made no trades of its own ({m.proposals:,} proposals)."
    verb = "made" if m.pnl >= 0 else "lost"
    return (
        f"{where}: its own fills {verb} {_money(abs(m.pnl))} {currency} "
        f"({_signed_pct(m.total_return)} of the starting cash). {_details(m)}."
    )


def summaries(runs: Sequence[RunResult], currency: str) -> dict[str, str]:
    """A sentence per run (by name) and per agent inside a run ("run/agent")."""
    benchmark = next((r for r in runs if r.kind == BUY_AND_HOLD), None)
    out: dict[str, str] = {}
    for run in runs:
        out[run.name] = run_sentence(run, benchmark, currency)
        for aid, a in run.attribution.items():
            out[f"{run.name}/{aid}"] = agent_sentence(run, a, currency)
    return out


def _label(result: RunResult) -> str:
    if result.kind == BUY_AND_HOLD:
        return "Buy-and-hold"
    return f"{result.name.capitalize()} ({', '.join(result.agents)})"


# ---- figure ------------------------------------------------------------------------------------
def _dates(ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
    return np.asarray(ts_ns, dtype=np.int64).view("datetime64[ns]").astype("datetime64[ms]")


def _line(
    ts_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]]:
    picks = decimation_indices(values, MAX_POINTS_PER_LINE, (int(np.argmin(values)),))
    return _dates(ts_ns[picks]), values[picks]


def _ensemble(runs: Sequence[RunResult]) -> RunResult | None:
    return next((r for r in runs if r.kind == ENSEMBLE), None)


_TITLES = (
    "Equity: ensemble, each agent alone, buy-and-hold",
    "Equity of the agent runs only (their own scale)",
    "Drawdown (%)",
    "Each agent's own PnL inside the ensemble (its fills at the bar closes)",
)


def build_figure(runs: Sequence[RunResult]) -> go.Figure:
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05,
        row_heights=[0.3, 0.25, 0.2, 0.25], subplot_titles=_TITLES,
    )  # fmt: skip
    palette = qualitative.Plotly
    for i, run in enumerate(runs):
        line = {"color": palette[i % len(palette)], "width": 1.5}
        if run.kind == BUY_AND_HOLD:
            line["dash"] = "dot"
        x, y = _line(run.curve.ts_ns, run.curve.equity)
        same = {"mode": "lines", "line": line, "legendgroup": run.name}
        fig.add_trace(go.Scatter(x=x, y=y, name=run.name, **same), row=1, col=1)
        if run.kind != BUY_AND_HOLD:
            fig.add_trace(go.Scatter(x=x, y=y, showlegend=False, **same), row=2, col=1)
        dx, dy = _line(run.curve.ts_ns, -drawdown_series(run.curve.equity) * 100.0)
        fig.add_trace(go.Scatter(x=dx, y=dy, showlegend=False, **same), row=3, col=1)
    ensemble = _ensemble(runs)
    cash = ensemble.initial_cash if ensemble else 0.0
    traders = [a for a in ensemble.attribution.values() if a.trades] if ensemble else []
    for j, a in enumerate(traders):
        colour = palette[(len(runs) + j) % len(palette)]
        x, y = _line(a.curve.ts_ns, a.curve.equity - cash)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{a.agent_id} (in ensemble)",
                                 line={"color": colour, "width": 1.5}), row=4, col=1)  # fmt: skip
    for row, title in ((1, "equity"), (2, "equity"), (4, "PnL")):
        fig.update_yaxes(title_text=title, row=row, col=1)
    fig.update_yaxes(ticksuffix="%", row=3, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=4, col=1)
    fig.update_layout(height=1250, margin={"l": 60, "r": 20, "t": 40, "b": 40}, hovermode="x")
    return fig


# ---- tables ------------------------------------------------------------------------------------
def _grid(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"


METRIC_HEADERS = (
    "Run", "Total return", "PnL", "Sharpe", "Max drawdown", "Hit rate", "Round trips", "Fills",
    "Fees", "Turnover", "Exposure", "Proposals", "Approval rate",
)  # fmt: skip


def _metric_cells(name: str, m: RunMetrics) -> list[str]:
    return [
        name, _signed_pct(m.total_return), _money(m.pnl), f"{m.sharpe:.2f}",
        _pct(m.max_drawdown), _pct(m.hit_rate), f"{m.round_trips:,}", f"{m.fills:,}",
        _money(m.fees), f"{m.turnover:.2f}x", _pct(m.exposure), f"{m.proposals:,}",
        _pct(m.approval_rate),
    ]  # fmt: skip


def _rows(runs: Sequence[RunResult]) -> list[tuple[str, str, RunMetrics, Decisions | None]]:
    """(row label, summary key, metrics, decisions): each run, then each agent inside it."""
    out: list[tuple[str, str, RunMetrics, Decisions | None]] = [
        (run.name, run.name, run.metrics, run.decisions) for run in runs
    ]
    for run in runs:
        for aid, a in run.attribution.items():
            out.append((f"{run.name} › {aid}", f"{run.name}/{aid}", a.metrics, a.decisions))
    return out


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "—"


def _decision_cells(name: str, d: Decisions) -> list[str]:
    reasons = "; ".join(f"{n:,}× {reason}" for reason, n in d.rejections) or "—"
    by = d.by_decision
    return [
        name, f"{d.proposals:,}", f"{by.get('approved', 0):,}", f"{by.get('modified', 0):,}",
        f"{by.get('rejected', 0):,}", _counts(d.by_status), _counts(d.order_outcomes), reasons,
    ]  # fmt: skip


DECISION_HEADERS = (
    "Run", "Proposals", "Approved", "Modified", "Rejected", "Proposal status",
    "Order outcomes", "Most common rejection reasons",
)  # fmt: skip


def _tables(runs: Sequence[RunResult], sentences: dict[str, str]) -> str:
    rows = _rows(runs)
    metrics = _grid("Metrics", METRIC_HEADERS, [_metric_cells(n, m) for n, _, m, _ in rows])
    decided = [_decision_cells(n, d) for n, _, _, d in rows if d is not None and d.proposals]
    decisions = _grid("Decisions", DECISION_HEADERS, decided)
    items = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(sentences.get(key, ''))}</li>"
        for name, key, _, _ in rows
    )
    return f"<h2>Summary</h2><ul>{items}</ul>{metrics}{decisions}"


_NOTES = (
    "Hit rate: share of round trips (flat to flat, per agent and instrument) that won net of "
    "fees. Turnover: traded notional / average equity. Exposure: average gross value of the "
    "open positions / equity, over the bar closes. Approval rate: (approved + modified) / "
    "decided proposals. Sharpe is annualised from the median bar spacing, risk-free rate 0. "
    "Buy-and-hold splits the cash evenly and buys each instrument at its first bar close, fee "
    "included; open positions of every run are marked at the last close, not sold."
)


def write_agent_report(
    path: Path, runs: Sequence[RunResult], *, title: str, params: dict[str, str], currency: str
) -> Path:
    """Write the report to path (parents created) and return path."""
    sentences = summaries(runs, currency)
    plot = build_figure(runs).to_html(
        full_html=False, include_plotlyjs=True, div_id=PLOT_DIV_ID, config={"responsive": True}
    )
    safe_title = html.escape(title)
    param_rows = [[str(k), str(v)] for k, v in params.items()]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{safe_title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{safe_title}</h1>{_tables(runs, sentences)}"
        f'<p class="note">{html.escape(_NOTES)}</p>{plot}'
        f"{_grid('Parameters', ('Parameter', 'Value'), param_rows)}</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# ---- JSON --------------------------------------------------------------------------------------
def decisions_json(d: Decisions) -> dict[str, Any]:
    return {
        "proposals": d.proposals,
        "by_decision": d.by_decision,
        "by_status": d.by_status,
        "order_outcomes": d.order_outcomes,
        "rejections": [{"reason": reason, "count": n} for reason, n in d.rejections],
    }


def run_json(result: RunResult, sentences: Mapping[str, str]) -> dict[str, Any]:
    """A run as JSON; sentences maps the run's name (and "name/agent") to its summary."""
    return {
        "name": result.name,
        "kind": result.kind,
        "agents": list(result.agents),
        "summary": sentences.get(result.name, ""),
        "metrics": asdict(result.metrics),
        "kernel_equity": None if result.kernel_equity is None else str(result.kernel_equity),
        "equity_points": int(result.curve.equity.size),
        "decisions": None if result.decisions is None else decisions_json(result.decisions),
        "attribution": {
            aid: {
                "type": a.agent_type,
                "trades": a.trades,
                "summary": sentences.get(f"{result.name}/{aid}", ""),
                "book": a.book,
                "metrics": asdict(a.metrics),
                "decisions": decisions_json(a.decisions),
            }
            for aid, a in result.attribution.items()
        },
    }
