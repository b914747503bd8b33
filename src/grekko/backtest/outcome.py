"""What a backtest produced, as JSON for machines and an HTML report for people."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from grekko.core.time import ns_to_iso
from grekko.domain.events import OrderFilled
from grekko.engines.kernel import Kernel

from .equity import EquityCurve, equity_curve
from .report import write_html_report
from .results import FillRecord, Metrics, compute_metrics, trade_stats
from .runner import Feed, RunStats


@dataclass(frozen=True, slots=True)
class Outcome:
    stats: RunStats
    fills: list[OrderFilled]
    curve: EquityCurve
    metrics: Metrics
    final_equity: Decimal
    initial_cash: Decimal


def collect(kernel: Kernel, feeds: list[Feed], stats: RunStats, initial_cash: Decimal) -> Outcome:
    fills = [e for o in kernel.cache.orders.values() for e in o.events if type(e) is OrderFilled]
    fills.sort(key=lambda f: f.ts_event)
    curve = equity_curve(feeds, fills, float(initial_cash))
    metrics = compute_metrics(curve.ts_ns, curve.equity, float(initial_cash))
    return Outcome(stats, fills, curve, metrics, kernel.portfolio.equity(), initial_cash)


def fill_records(fills: list[OrderFilled]) -> list[FillRecord]:
    return [
        FillRecord(ts_ns=f.ts_event, side=f.side.value, qty=f.last_qty, price=f.last_px, fee=f.fee)  # type: ignore[arg-type]
        for f in fills
    ]


def to_json(kernel: Kernel, outcome: Outcome, meta: dict[str, Any]) -> dict[str, Any]:
    m = outcome.metrics
    st = trade_stats(fill_records(outcome.fills))
    orders = [
        {
            "client_order_id": o.client_order_id,
            "instrument_id": o.instrument_id,
            "side": o.side.value,
            "type": o.order_type.value,
            "quantity": str(o.quantity),
            "status": o.status.value,
            "filled_qty": str(o.filled_qty),
            "avg_px": str(o.avg_px),
            "ts_init": ns_to_iso(o.events[0].ts_event),
        }
        for o in kernel.cache.orders.values()
    ]
    fills = [
        {
            "ts": ns_to_iso(f.ts_event),
            "client_order_id": f.client_order_id,
            "instrument_id": f.instrument_id,
            "side": f.side.value,
            "qty": str(f.last_qty),
            "price": str(f.last_px),
            "fee": str(f.fee),
            "liquidity": f.liquidity.value,
        }
        for f in outcome.fills
    ]
    elapsed = outcome.stats.elapsed_s
    return {
        **meta,
        "bars": outcome.stats.bars,
        "elapsed_s": round(elapsed, 6),
        "bars_per_s": round(outcome.stats.bars / elapsed) if elapsed > 0 else None,
        "initial_cash": str(outcome.initial_cash),
        "final_equity": str(outcome.final_equity),
        "total_return": m.total_return,
        "max_drawdown": m.max_drawdown,
        "sharpe": m.sharpe,
        "sortino": m.sortino,
        "cagr": m.cagr,
        "fees_total": str(st.total_fees),
        "round_trips": st.n_round_trips,
        "win_rate": st.win_rate,
        "orders_denied": kernel.risk.denials,
        "handler_errors": kernel.bus.handler_errors,
        "trading_state": kernel.risk.state.value,
        "orders": orders,
        "fills": fills,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        json.dump(payload, out, indent=1)  # streamed: no second copy of a large result in memory


def write_report(
    path: Path, outcome: Outcome, feeds: list[Feed], title: str, params: dict[str, str]
) -> Path:
    records = fill_records(outcome.fills)
    first = feeds[0].bars
    return write_html_report(
        path,
        title=title,
        ts_ns=outcome.curve.ts_ns,
        equity=outcome.curve.equity,
        price_ts_ns=first.ts_close_ns,
        price_close=first.close,
        fills=[
            r
            for r, f in zip(records, outcome.fills, strict=True)
            if f.instrument_id == feeds[0].instrument_id
        ],
        metrics=outcome.metrics,
        trade_stats=trade_stats(records),
        params=params,
    )
