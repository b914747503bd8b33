"""Market data observations.

Prices here are floats on purpose: they are observations that feed indicators (analytics), and a
bar carries four of them on the hottest path of the kernel. They enter money only through
`Instrument.make_price`, at the venue edge where a fill price is decided.
"""

from __future__ import annotations

import msgspec

from grekko.domain.enums import OrderSide


class Bar(msgspec.Struct, frozen=True, gc=False):
    instrument_id: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    ts_open: int  # ns, start of the interval
    ts_event: int  # ns, end of the interval: when the bar became known


class TradeTick(msgspec.Struct, frozen=True, gc=False):
    instrument_id: str
    price: float
    size: float
    aggressor: OrderSide
    trade_id: str
    ts_event: int


class QuoteTick(msgspec.Struct, frozen=True, gc=False):
    instrument_id: str
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    ts_event: int
