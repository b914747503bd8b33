"""Data streams: what a stream is and the envelope every message on it travels in.

The sequence number is per stream and starts at 1; a consumer that sees a jump knows it missed
messages (a paused stream that overflowed its buffer, a dropped network frame) and can resync.
"""

from __future__ import annotations

from typing import Any

import msgspec

from grekko.domain.enums import _FastStrEnum


class StreamDataType(_FastStrEnum):
    MARKET_DATA = "market_data"
    ORDER_BOOK = "order_book"
    TRADE_EXECUTIONS = "trade_executions"
    AGENT_DECISIONS = "agent_decisions"
    RISK_METRICS = "risk_metrics"
    NEWS_FEED = "news_feed"


class StreamSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """update_frequency_ms > 0 conflates: at most one message per interval, the latest wins."""

    stream_id: str
    data_type: StreamDataType
    source: str = ""
    update_frequency_ms: int = 0
    buffer_size: int = 1000

    def __post_init__(self) -> None:
        if not self.stream_id or len(self.stream_id) > 200:
            raise ValueError("stream_id must be 1 to 200 characters")
        if self.update_frequency_ms < 0:
            raise ValueError("update_frequency_ms must be >= 0")
        if not 1 <= self.buffer_size <= 1_000_000:
            raise ValueError("buffer_size must be between 1 and 1,000,000")


class StreamMessage(msgspec.Struct, frozen=True, gc=False):
    stream_id: str
    timestamp: int  # ns UTC, when the streamer published it
    sequence_number: int
    data_type: StreamDataType
    payload: Any


class SequenceGap(msgspec.Struct, frozen=True):
    """Reported when a consumer sees sequence `received` while it expected `expected`."""

    stream_id: str
    expected: int
    received: int

    @property
    def missing(self) -> int:
        return self.received - self.expected
