"""Indicator values of one instrument at a bar close, as the enricher publishes them.

None means "not enough bars yet" (an SMA(20) has no value before the 20th bar), never zero.
"""

from __future__ import annotations

import msgspec


class IndicatorSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sma: int = 20
    ema: int = 20
    rsi: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bollinger: int = 20
    bollinger_k: float = 2.0
    atr: int = 14

    def __post_init__(self) -> None:
        periods = (self.sma, self.ema, self.rsi, self.macd_signal, self.bollinger, self.atr)
        if min(periods) < 1 or self.macd_fast < 1 or self.macd_fast >= self.macd_slow:
            raise ValueError("indicator periods must be >= 1 and macd_fast < macd_slow")
        if not self.bollinger_k > 0:
            raise ValueError("bollinger_k must be > 0")


class IndicatorSnapshot(msgspec.Struct, frozen=True):
    instrument_id: str
    ts_event: int
    close: float
    sma: float | None = None
    ema: float | None = None
    rsi: float | None = None
    macd: float | None = None
    macd_signal: float | None = None
    macd_histogram: float | None = None
    bb_lower: float | None = None
    bb_middle: float | None = None
    bb_upper: float | None = None
    atr: float | None = None
    vwap: float | None = None  # of bars since the start of the UTC day
    trade_vwap: float | None = None  # of trades since the start of the UTC day (tick streams)


class CompositePrice(msgspec.Struct, frozen=True):
    """One symbol across venues: the best bid/ask anywhere and a consensus last price."""

    symbol: str
    ts_event: int
    venues: int
    best_bid: float | None = None
    best_bid_venue: str = ""
    best_ask: float | None = None
    best_ask_venue: str = ""
    median_last: float | None = None
    vwap: float | None = None  # of trades across venues within the aggregator's window


INDICATOR_TOPICS = "data.indicators.*"


def indicator_topic(instrument_id: str) -> str:
    """Where the enricher publishes an instrument's snapshots, in every mode."""
    return f"data.indicators.{instrument_id}"
