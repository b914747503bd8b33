"""Venue market-data feeds: payload parsers and the venue's book-sequencing rules."""

from grekko.adapters.feeds.binance_depth import BinanceDepthParser, BinanceSequencer
from grekko.adapters.feeds.bybit_orderbook import BybitOrderbookParser, BybitSequencer

__all__ = ["BinanceDepthParser", "BinanceSequencer", "BybitOrderbookParser", "BybitSequencer"]
