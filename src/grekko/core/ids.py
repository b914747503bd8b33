"""Typed identifiers: NewTypes over str cost nothing at run time but keep ids apart for mypy."""

from __future__ import annotations

import itertools
from typing import NewType

InstrumentId = NewType("InstrumentId", str)  # "BTC/USDT@paper"
ClientOrderId = NewType("ClientOrderId", str)
VenueOrderId = NewType("VenueOrderId", str)
TradeId = NewType("TradeId", str)
StrategyId = NewType("StrategyId", str)
AccountId = NewType("AccountId", str)
PositionId = NewType("PositionId", str)


def instrument_id(symbol: str, venue: str) -> InstrumentId:
    return InstrumentId(f"{symbol}@{venue}")


def split_instrument_id(iid: str) -> tuple[str, str]:
    symbol, sep, venue = iid.rpartition("@")
    if not sep or not symbol or not venue:
        raise ValueError(f"instrument id must look like 'BTC/USDT@venue', got {iid!r}")
    return symbol, venue


class IdGenerator:
    """Deterministic sequential ids: the same run produces the same ids, which replay relies on."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self, prefix: str, start: int = 1) -> None:
        self._prefix = prefix
        self._counter = itertools.count(start)

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter)}"

    def advance_past(self, used: int) -> None:
        """Skip ids already handed out before a restart."""
        self._counter = itertools.count(used + 1)
