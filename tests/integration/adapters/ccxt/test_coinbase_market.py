"""The Coinbase market data poller against the local Coinbase: recorded candles and book, signed
client, real HTTP. Candles are served as the last closed minutes (values as recorded)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from coinbase_trading_server import CoinbaseTradingServer

from grekko.adapters.ccxt.coinbase_market import CoinbaseMarketPoller
from grekko.adapters.ccxt.coinbase_records import CoinbaseError, CoinbaseUnavailable
from grekko.adapters.ccxt.trading import CoinbaseTrading
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar, RawQuote

BOOK_TIME_MS = 1775521739662  # the recorded book's "time", 2026-04-07T00:28:59.662Z


class Heard:
    def __init__(self) -> None:
        self.records: list[Any] = []
        self.failures: list[tuple[str, Exception]] = []
        self.changed = threading.Condition()

    def deliver(self, symbol: str, records: list[Any]) -> None:
        assert all(r.symbol == symbol for r in records)
        with self.changed:
            self.records += records
            self.changed.notify_all()

    def failed(self, symbol: str, exc: Exception) -> None:
        with self.changed:
            self.failures.append((symbol, exc))
            self.changed.notify_all()

    def wait(self, done: Any, timeout_s: float = 10.0) -> None:
        with self.changed:
            assert self.changed.wait_for(done, timeout_s), (self.records, self.failures)


def poller(client: CoinbaseTrading, heard: Heard, interval_s: float = 0.05) -> CoinbaseMarketPoller:
    made = CoinbaseMarketPoller(client, interval_s, heard.deliver, heard.failed, max_backoff_s=0.2)
    made.add("BTC/USD")
    return made


def expected_bar(server: CoinbaseTradingServer, index: int) -> RawBar:
    row = server.recorded_candles()[index]
    return RawBar(
        venue="coinbase",
        symbol="BTC/USD",
        ts=server.live_start_s(index, 60) * 1000,
        open=Decimal(row["open"]),
        high=Decimal(row["high"]),
        low=Decimal(row["low"]),
        close=Decimal(row["close"]),
        volume=Decimal(row["volume"]),
        interval_s=60,
    )


def expected_quote(server: CoinbaseTradingServer) -> RawQuote:
    book = server.load("http_product_book.json")["pricebook"]
    bid, ask = book["bids"][0], book["asks"][0]
    return RawQuote(
        venue="coinbase",
        symbol="BTC/USD",
        bid=Decimal(bid["price"]),
        ask=Decimal(ask["price"]),
        bid_size=Decimal(bid["size"]),
        ask_size=Decimal(ask["size"]),
        ts=BOOK_TIME_MS,
    )


def test_closed_candles_once_each_and_the_top_of_the_book(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    server.serve_candles_live(int(time.time()), released=1)
    heard = Heard()
    feed = poller(client, heard)
    assert feed.poll_once()
    assert heard.records == [expected_bar(server, 0), expected_quote(server)]
    first = server.seen("GET", "/api/v3/brokerage/market/products/BTC-USD/candles")[0]
    assert first.query["granularity"] == ["ONE_MINUTE"]
    assert int(first.query["end"][0]) - int(first.query["start"][0]) == 60 * 60  # history=60

    assert feed.poll_once()  # nothing new: the same candle and the same book
    assert heard.records == [expected_bar(server, 0), expected_quote(server)]
    again = server.seen("GET", "/api/v3/brokerage/market/products/BTC-USD/candles")[1]
    assert int(again.query["start"][0]) * 1000 == expected_bar(server, 0).ts

    server.release_candles(2)
    assert feed.poll_once()
    assert heard.records[2:] == [expected_bar(server, 1)]
    assert heard.failures == []


def test_failures_are_reported_and_polling_resumes(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    server.serve_candles_live(int(time.time()), released=1)
    heard = Heard()
    feed = poller(client, heard)
    feed.add("NOPE/USD")  # not a Coinbase product: reported every round, BTC/USD unharmed
    server.answer_all(500)
    feed.start()
    try:
        heard.wait(lambda: len(heard.failures) >= 4)
        assert heard.records == []
        assert all(isinstance(exc, CoinbaseError | ConfigError) for _, exc in heard.failures)
        server.answer_all(None)
        server.stop()
        before = len(heard.failures)
        heard.wait(
            lambda: any(isinstance(e, CoinbaseUnavailable) for _, e in heard.failures[before:])
        )
        assert heard.records == []
        server.restart()
        heard.wait(lambda: len(heard.records) >= 2)
        assert heard.records[:2] == [expected_bar(server, 0), expected_quote(server)]
        server.release_candles(2)
        heard.wait(lambda: len(heard.records) >= 3)
    finally:
        feed.stop()
    assert heard.records == [
        expected_bar(server, 0),
        expected_quote(server),
        expected_bar(server, 1),
    ]
    assert feed.stopped
    assert {s for s, _ in heard.failures} == {"BTC/USD", "NOPE/USD"}
    unknown = [str(exc) for s, exc in heard.failures if s == "NOPE/USD"]
    assert any("does not have market symbol NOPE/USD" in text for text in unknown), unknown


def test_a_stopped_poller_starts_again_where_it_was(
    client: CoinbaseTrading, server: CoinbaseTradingServer
) -> None:
    server.serve_candles_live(int(time.time()), released=1)
    heard = Heard()
    feed = poller(client, heard)
    feed.start()
    try:
        heard.wait(lambda: len(heard.records) >= 2)
        feed.stop()
        polls = len(server.seen("GET", "/api/v3/brokerage/market/product_book"))
        server.release_candles(2)
        feed.start()
        heard.wait(lambda: len(heard.records) >= 3)
    finally:
        feed.stop()
    assert len(server.seen("GET", "/api/v3/brokerage/market/product_book")) > polls
    assert heard.records == [
        expected_bar(server, 0),
        expected_quote(server),
        expected_bar(server, 1),
    ]


def test_bad_settings_are_refused(client: CoinbaseTrading) -> None:
    heard = Heard()
    with pytest.raises(ConfigError, match="timeframe"):
        CoinbaseMarketPoller(client, 1.0, heard.deliver, heard.failed, timeframe="7m")
    with pytest.raises(ConfigError, match="interval_s > 0"):
        CoinbaseMarketPoller(client, 0.0, heard.deliver, heard.failed)
