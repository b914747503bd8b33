"""The equity curve, rebuilt after the run from the fills and the bars (vectorised analytics).

Marking every bar inside the loop would cost more than the strategy itself; the fills are the
only thing that changes cash and positions, so the curve at each bar close is
cash(fills so far) + sum(position(fills so far) x close), computed here at numpy speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from grekko.domain.events import OrderFilled

from .runner import Feed


@dataclass(frozen=True, slots=True)
class EquityCurve:
    ts_ns: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]


def _forward_filled(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    present = ~np.isnan(values)
    last_index = np.where(present, np.arange(values.size), 0)
    np.maximum.accumulate(last_index, out=last_index)
    filled = values[last_index]
    filled[~present & (last_index == 0) & np.isnan(values[0])] = 0.0
    return filled


def equity_curve(
    feeds: Sequence[Feed], fills: Sequence[OrderFilled], initial_cash: float
) -> EquityCurve:
    timeline = np.unique(np.concatenate([feed.bars.ts_close_ns for feed in feeds]))
    n = timeline.size
    cash_delta = np.zeros(n)
    mtm = np.zeros(n)
    by_instrument: dict[str, list[OrderFilled]] = {}
    for fill in fills:
        by_instrument.setdefault(fill.instrument_id, []).append(fill)
    for feed in feeds:
        mine = by_instrument.get(feed.instrument_id, [])
        close = np.full(n, np.nan)
        close[np.searchsorted(timeline, feed.bars.ts_close_ns)] = feed.bars.close
        close = _forward_filled(close)
        if not mine:
            continue
        # a fill at time t belongs to the first bar close after t
        where = np.minimum(
            np.searchsorted(timeline, [f.ts_event for f in mine], side="right"), n - 1
        )
        signed = np.array(
            [float(f.last_qty) if f.side.sign > 0 else -float(f.last_qty) for f in mine]
        )
        price = np.array([float(f.last_px) for f in mine])
        fee = np.array([float(f.fee) for f in mine])
        qty_delta = np.zeros(n)
        np.add.at(qty_delta, where, signed)
        np.add.at(cash_delta, where, -signed * price - fee)
        mtm += np.cumsum(qty_delta) * close
    return EquityCurve(timeline, initial_cash + np.cumsum(cash_delta) + mtm)
