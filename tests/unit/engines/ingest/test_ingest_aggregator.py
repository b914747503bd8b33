"""VenueAggregator: one symbol across venues -> best bid/ask, median last, windowed VWAP."""

from __future__ import annotations

import pytest

from grekko.adapters.files.trades import load_trades
from grekko.domain.data import QuoteTick, TradeTick
from grekko.domain.enums import OrderSide
from grekko.engines.ingest.aggregator import VenueAggregator
from shared_data import shared_file

S = 10**9
T0 = 1_610_064_000 * S  # 2021-01-08T00:00:00Z


def quote(venue: str, bid: float, ask: float, ts: int = T0) -> QuoteTick:
    return QuoteTick(f"BTC/USDT@{venue}", bid, ask, 1.0, 1.0, ts)


def trade(venue: str, price: float, size: float = 1.0, ts: int = T0) -> TradeTick:
    return TradeTick(f"BTC/USDT@{venue}", price, size, OrderSide.BUY, "", ts)


def test_best_bid_and_ask_come_from_different_venues() -> None:
    aggregator = VenueAggregator()
    aggregator.on_quote(quote("binance", 100.0, 101.0))
    aggregator.on_quote(quote("coinbase", 100.5, 101.5))
    composite = aggregator.on_quote(quote("kraken", 99.0, 100.8))
    assert composite.symbol == "BTC/USDT"
    assert composite.venues == 3
    assert (composite.best_bid, composite.best_bid_venue) == (100.5, "coinbase")
    assert (composite.best_ask, composite.best_ask_venue) == (100.8, "kraken")
    assert composite.median_last is None
    assert composite.vwap is None


def test_a_stale_venue_is_ignored() -> None:
    aggregator = VenueAggregator(max_age_ns=10 * S)
    aggregator.on_quote(quote("kraken", 105.0, 105.5, T0))  # the best, but about to go stale
    aggregator.on_quote(quote("binance", 100.0, 101.0, T0 + 5 * S))
    fresh = aggregator.on_quote(quote("coinbase", 100.5, 101.5, T0 + 10 * S))
    assert fresh.best_bid_venue == "kraken"  # exactly 10 s old: still counts
    stale = aggregator.on_quote(quote("coinbase", 100.5, 101.5, T0 + 10 * S + 1))
    assert (stale.best_bid, stale.best_bid_venue) == (100.5, "coinbase")
    assert (stale.best_ask, stale.best_ask_venue) == (101.0, "binance")
    assert stale.venues == 2


def test_median_last_is_robust_to_one_venue_printing_nonsense() -> None:
    aggregator = VenueAggregator()
    aggregator.on_trade(trade("binance", 100.0))
    assert aggregator.on_trade(trade("coinbase", 101.0)).median_last == 100.5
    composite = aggregator.on_trade(trade("dodgy", 5000.0))
    assert composite.median_last == 101.0
    assert composite.venues == 3
    assert aggregator.on_trade(trade("binance", 102.0)).median_last == 102.0  # the last per venue


def test_vwap_over_a_sliding_window() -> None:
    aggregator = VenueAggregator(vwap_window_ns=60 * S)
    aggregator.on_trade(trade("binance", 100.0, 1.0, T0))
    aggregator.on_trade(trade("coinbase", 110.0, 3.0, T0 + 30 * S))
    assert aggregator.on_trade(trade("binance", 120.0, 1.0, T0 + 60 * S)).vwap == pytest.approx(
        (100 + 330 + 120) / 5
    )
    later = aggregator.on_trade(trade("kraken", 90.0, 2.0, T0 + 61 * S))  # the first left
    assert later.vwap == pytest.approx((330 + 120 + 180) / 6)
    alone = aggregator.on_trade(trade("kraken", 95.0, 2.0, T0 + 1000 * S))
    assert alone.vwap == 95.0


def test_symbols_are_kept_apart() -> None:
    aggregator = VenueAggregator()
    aggregator.on_trade(trade("binance", 100.0))
    eth = aggregator.on_trade(TradeTick("ETH/USDT@binance", 5.0, 1.0, OrderSide.BUY, "", T0))
    assert (eth.symbol, eth.venues, eth.median_last) == ("ETH/USDT", 1, 5.0)


def test_wanted_once_a_second_venue_shows_up() -> None:
    aggregator = VenueAggregator()
    assert not aggregator.wanted("BTC/USDT@binance")
    assert not aggregator.wanted("BTC/USDT@binance")
    assert not aggregator.wanted("ETH/USDT@coinbase")
    assert aggregator.wanted("BTC/USDT@coinbase")
    assert aggregator.wanted("BTC/USDT@binance")  # the first venue now wants it too
    assert not aggregator.wanted("ETH/USDT@coinbase")


@pytest.mark.shared
def test_windowed_vwap_on_real_trades_split_across_two_venues() -> None:
    """Binance BTCUSDT trades dealt alternately to two venues: the composite VWAP is the file's."""
    rows = load_trades(shared_file("ticks_orderbook", "binance_btcusdt-trades.parquet"))
    aggregator = VenueAggregator(vwap_window_ns=10 * S)
    trades: list[tuple[int, float, float]] = []
    composite = None
    start = 0
    for index, (ts_ms, price, amount, _, _) in enumerate(rows.rows()):
        assert isinstance(ts_ms, int)
        assert isinstance(price, float)
        assert isinstance(amount, float)
        ts = ts_ms * 10**6 if ts_ms < 10**15 else ts_ms
        venue = "a" if index % 2 else "b"
        composite = aggregator.on_trade(trade(venue, price, amount, ts))
        trades.append((ts, price, amount))
        while trades[start][0] < ts - 10 * S:
            start += 1
        window = trades[start:]
        expected = sum(p * a for _, p, a in window) / sum(a for _, _, a in window)
        assert composite.vwap == pytest.approx(expected, rel=1e-9)
    assert composite is not None
    assert composite.venues == 2
