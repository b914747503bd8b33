"""Warm-up: history replayed to strategies only, so indicators rebuild without trading.

During warm-up every strategy context has `warming_up` set (orders and cancels are suppressed),
and the bar handlers of the venues and the portfolio are taken off the bus: a venue must not
match working orders against bars it already saw before the restart, and the portfolio must not
mark today's positions at yesterday's prices (its equity watermarks feed the risk breakers).
The data engine still records each bar, so last prices are known when live processing resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from grekko.engines.kernel import PORTFOLIO_PRIORITY, VENUE_PRIORITY, Kernel

BAR_PATTERN = "data.bars.*"


@contextmanager
def strategies_only(
    kernel: Kernel, venue_bar_handlers: Sequence[Callable[[Any], None]], probe_topic: str
) -> Iterator[None]:
    """Within the block, published bars reach strategies (warming up) and the data engine only."""
    muted = [(h, VENUE_PRIORITY) for h in venue_bar_handlers]
    muted.append((kernel.portfolio.on_bar, PORTFOLIO_PRIORITY))
    subscribed = kernel.bus.subscriptions(probe_topic)
    for handler, _ in muted:
        if handler not in subscribed:
            raise RuntimeError(f"{handler!r} is not subscribed to {BAR_PATTERN}; cannot mute it")
    contexts = [kernel.trader.context(sid) for sid in kernel.trader.strategies]
    for handler, _ in muted:
        kernel.bus.unsubscribe(BAR_PATTERN, handler)
    for ctx in contexts:
        ctx.warming_up = True
    try:
        yield
    finally:
        for ctx in contexts:
            ctx.warming_up = False
        for handler, priority in muted:
            kernel.bus.subscribe(BAR_PATTERN, handler, priority)
