"""MarketDataSource port: anything that yields bars, trades or quotes in time order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from grekko.domain.data import Bar, QuoteTick, TradeTick

MarketData = Bar | TradeTick | QuoteTick


class MarketDataSource(Protocol):
    def __iter__(self) -> Iterator[MarketData]: ...
