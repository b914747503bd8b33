"""Validator: each rule on its own, then real data, which must pass untouched but for a bad print."""

from __future__ import annotations

from pathlib import Path

import pytest

from grekko.adapters.files.bars import BarArrays, bundled_files, iter_bar_rows, load_bars
from grekko.adapters.files.trades import load_trades
from grekko.core.time import TestClock
from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.enums import OrderSide
from grekko.domain.raw import RawBar, RawTrade
from grekko.engines.ingest.normalizer import Normalizer
from grekko.engines.ingest.quarantine import Rejected
from grekko.engines.ingest.validator import ValidationRules, Validator
from shared_data import shared_file

IID = "BTC/USDT@binance"
T0 = 1_618_790_400 * 10**9
S = 10**9
MINUTE = 60 * S


def tick(price: float, ts: int = T0, trade_id: str = "", size: float = 1.0) -> TradeTick:
    return TradeTick(IID, price, size, OrderSide.BUY, trade_id, ts)


def bar(o: float, h: float, low: float, c: float, ts_open: int = T0, volume: float = 1.0) -> Bar:
    return Bar(IID, o, h, low, c, volume, ts_open, ts_open + MINUTE)


def quote(bid: float, ask: float, ts: int = T0, bid_size: float = 1.0) -> QuoteTick:
    return QuoteTick(IID, bid, ask, bid_size, 1.0, ts)


def reason(call: object) -> str:
    assert callable(call)
    with pytest.raises(Rejected) as info:
        call()
    return info.value.reason


def feed_flat(validator: Validator, price: float, count: int, start: int = T0) -> int:
    """`count` trades around `price` (±0.1 %, so the MAD is not zero); returns the next free ts."""
    for i in range(count):
        validator.trade(tick(price * (1 + 0.001 * ((i % 3) - 1)), start + i * S))
    return start + count * S


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (tick(0.0), "price_not_positive"),
        (tick(-1.0), "price_not_positive"),
        (tick(100.0, size=0.0), "size_not_positive"),
        (tick(100.0, size=-2.0), "size_not_positive"),
        (bar(0.0, 1.0, 0.0, 1.0), "price_not_positive"),
        (bar(1.0, 1.0, 1.0, 1.0, volume=-1.0), "size_not_positive"),
        (bar(100.0, 99.0, 98.0, 98.5), "high_below_open_close"),
        (bar(100.0, 101.0, 98.0, 101.5), "high_below_open_close"),
        (bar(100.0, 101.0, 100.5, 100.8), "low_above_open_close"),
        (bar(100.0, 101.0, 99.0, 98.9), "low_above_open_close"),
        (quote(101.0, 100.0), "crossed_quote"),
        (quote(0.0, 100.0), "price_not_positive"),
        (quote(99.0, 100.0, bid_size=-1.0), "size_not_positive"),
    ],
)
def test_value_rules(record: TradeTick | Bar | QuoteTick, expected: str) -> None:
    validator = Validator()
    check = {TradeTick: validator.trade, Bar: validator.bar, QuoteTick: validator.quote}
    assert reason(lambda: check[type(record)](record)) == expected  # type: ignore[operator]


def test_zero_volume_bar_and_locked_quote_are_fine() -> None:
    validator = Validator()
    validator.bar(bar(100.0, 100.0, 100.0, 100.0, volume=0.0))
    validator.quote(quote(100.0, 100.0))


def test_time_order_per_instrument() -> None:
    validator = Validator()
    validator.trade(tick(100.0, T0 + 5))
    validator.trade(tick(100.0, T0 + 5))  # same time: several trades per ms are normal
    assert reason(lambda: validator.trade(tick(100.0, T0 + 4))) == "out_of_order"
    other = TradeTick("ETH/USDT@binance", 50.0, 1.0, OrderSide.BUY, "", T0)
    validator.trade(other)  # another instrument has its own clock
    assert reason(lambda: validator.quote(quote(99.0, 101.0, T0 + 1))) == "out_of_order"


def test_bars_must_open_strictly_later() -> None:
    validator = Validator()
    validator.bar(bar(100.0, 101.0, 99.0, 100.5, T0 + MINUTE))
    assert reason(lambda: validator.bar(bar(100.0, 101.0, 99.0, 100.5, T0 + MINUTE))) == (
        "duplicate"
    )
    assert reason(lambda: validator.bar(bar(100.0, 101.0, 99.0, 100.5, T0))) == "out_of_order"
    validator.bar(bar(100.0, 101.0, 99.0, 100.5, T0 + 2 * MINUTE))


def test_duplicate_trade_ids_are_remembered_within_the_memory() -> None:
    # two generations of duplicate_memory ids each: the last 3 to 5 ids are always remembered
    validator = Validator(ValidationRules(duplicate_memory=3))
    for i in range(3):
        validator.trade(tick(100.0, T0 + i, trade_id=str(i)))
    assert reason(lambda: validator.trade(tick(100.0, T0 + 3, trade_id="1"))) == "duplicate"
    for i in range(3, 6):
        validator.trade(tick(100.0, T0 + i, trade_id=str(i)))
    for i in range(3, 6):
        assert (
            reason(lambda i=i: validator.trade(tick(100.0, T0 + 6, trade_id=str(i)))) == "duplicate"
        )
    validator.trade(tick(100.0, T0 + 6, trade_id="0"))  # three generations ago: forgotten
    validator.trade(tick(100.0, T0 + 7))  # no id: no duplicate check at all
    validator.trade(tick(100.0, T0 + 7))


def test_stale_and_future_data_against_the_clock() -> None:
    clock = TestClock(T0)
    rules = ValidationRules(stale_after_ns=5 * S, max_future_ns=2 * S)
    validator = Validator(rules, now_ns=clock.timestamp_ns)
    validator.trade(tick(100.0, T0 - 5 * S))  # exactly at the limit
    assert reason(lambda: validator.trade(tick(100.0, T0 + 2 * S + 1))) == "future"
    validator.trade(tick(100.0, T0 + 2 * S))
    clock.advance(10 * S)
    with pytest.raises(Rejected, match=r"7\.000 s old") as info:
        validator.trade(tick(100.0, T0 + 3 * S))
    assert info.value.reason == "stale"
    validator.trade(tick(100.0, T0 + 6 * S))  # 4 s old: fresh enough
    assert reason(lambda: validator.quote(quote(99.0, 101.0, T0 + 12 * S + 1))) == "future"


def test_no_clock_checks_without_a_clock_or_limits() -> None:
    Validator(ValidationRules(stale_after_ns=S)).trade(tick(100.0, 0))  # no clock: data time
    clock = TestClock(T0)
    Validator(now_ns=clock.timestamp_ns).trade(tick(100.0, 0))  # no limits: replays are old


def test_spike_rejected_then_confirmed_new_level_accepted() -> None:
    validator = Validator(ValidationRules(confirm_after=3))
    ts = feed_flat(validator, 100.0, 40)
    assert reason(lambda: validator.trade(tick(150.0, ts))) == "spike"  # a bad print, alone
    validator.trade(tick(100.05, ts + 1))  # back to normal: the suspect is forgotten
    assert reason(lambda: validator.trade(tick(130.0, ts + 2))) == "spike"
    assert reason(lambda: validator.trade(tick(130.5, ts + 3))) == "spike"
    validator.trade(tick(130.2, ts + 4))  # third agreeing price: a real new level
    validator.trade(tick(130.4, ts + 5))  # and the window now lives at it
    validator.trade(tick(130.1, ts + 6))


def test_disagreeing_suspects_do_not_confirm_each_other() -> None:
    validator = Validator(ValidationRules(confirm_after=2))
    ts = feed_flat(validator, 100.0, 40)
    assert reason(lambda: validator.trade(tick(150.0, ts))) == "spike"
    assert reason(lambda: validator.trade(tick(60.0, ts + 1))) == "spike"  # not near 150
    validator.trade(tick(60.5, ts + 2))  # near 60: two agreeing suspects confirm


def test_step_by_step_crash_and_flat_market_pass() -> None:
    validator = Validator()
    ts = T0
    for i in range(30):  # perfectly flat: MAD is 0, small moves must still pass
        validator.trade(tick(100.0, ts + i))
    validator.trade(tick(100.5, ts + 30))
    price = 100.5
    for i in range(40):  # -2 % a step, -55 % in all: each print near the one before
        price *= 0.98
        validator.trade(tick(price, ts + 31 + i))
    assert price < 50


def test_spikes_need_a_warm_window() -> None:
    validator = Validator(ValidationRules(min_window=16))
    for i in range(15):
        validator.trade(tick(100.0 + i % 2, T0 + i))
    validator.trade(tick(1000.0, T0 + 15))  # only 15 prices known: too few to judge


def test_bar_spikes_are_judged_on_the_close() -> None:
    validator = Validator()
    for i in range(30):
        validator.bar(bar(100.0, 100.5, 99.5, 100.0 + 0.1 * (i % 3), T0 + i * MINUTE))
    bad = bar(100.0, 1000.0, 99.0, 1000.0, T0 + 30 * MINUTE)
    assert reason(lambda: validator.bar(bad)) == "spike"


# ---- real data ------------------------------------------------------------------------------


def raw_bars(bars: BarArrays) -> list[Bar]:
    """The file's bars as a venue would send them, through the normalizer."""
    normalizer = Normalizer()
    return [
        normalizer.bar(RawBar("binance", bars.symbol, ts_open, o, h, low, c, v, 60))
        for ts_open, _, o, h, low, c, v in iter_bar_rows(bars)
    ]


def rejections(validator: Validator, records: list[Bar]) -> list[tuple[int, str]]:
    found = []
    for index, record in enumerate(records):
        try:
            validator.bar(record)
        except Rejected as error:
            found.append((index, error.reason))
    return found


@pytest.mark.parametrize("path", bundled_files(), ids=lambda p: p.name)
def test_no_false_positives_on_real_bundled_bars(path: Path) -> None:
    records = raw_bars(load_bars(path))
    assert len(records) == 9646
    assert rejections(Validator(), records) == []


@pytest.mark.parametrize("path", bundled_files(), ids=lambda p: p.name)
def test_a_bad_print_in_real_bars_is_the_only_rejection(path: Path) -> None:
    records = raw_bars(load_bars(path))
    victim = records[5000]
    records[5000] = Bar(
        victim.instrument_id,
        victim.open,
        victim.close * 1.25,
        victim.low,
        victim.close * 1.25,
        victim.volume,
        victim.ts_open,
        victim.ts_event,
    )
    assert rejections(Validator(), records) == [(5000, "spike")]


TRADE_FILES = [
    ("binance_XRPETH_trades_2019-10-11.csv.gz", "XRPETH", 7913),
    ("binance_ETHUSDT_futures_trades_2023-02-02.csv", "ETHUSDT", 1000),
    ("kraken_BCHEUR_trades_q2_headerless.csv", "BCHEUR", 486),
    ("binance_btcusdt-trades.parquet", "BTCUSDT", 2001),
    ("tardis_bitmex_trades_XBTUSD.csv", "XBTUSD", 10),
]


def real_trades(name: str, symbol: str) -> list[RawTrade]:
    rows = load_trades(shared_file("ticks_orderbook", name))
    return [RawTrade("venue", symbol, p, a, s, ts, i) for ts, p, a, s, i in rows.rows()]


def run_trades(raws: list[RawTrade]) -> list[tuple[int, str]]:
    normalizer, validator = Normalizer(), Validator()
    found = []
    for index, raw in enumerate(raws):
        try:
            validator.trade(normalizer.trade(raw))
        except Rejected as error:
            found.append((index, error.reason))
    return found


@pytest.mark.shared
@pytest.mark.parametrize(("name", "symbol", "count"), TRADE_FILES, ids=[t[0] for t in TRADE_FILES])
def test_no_false_positives_on_real_trade_files(name: str, symbol: str, count: int) -> None:
    raws = real_trades(name, symbol)
    assert len(raws) == count
    assert run_trades(raws) == []


@pytest.mark.shared
def test_a_bad_trade_print_and_a_replayed_id_are_the_only_rejections() -> None:
    raws = real_trades("binance_XRPETH_trades_2019-10-11.csv.gz", "XRPETH")
    at = 4000
    neighbour = raws[at - 1]
    price = neighbour.price
    assert isinstance(price, float)
    bad_print = RawTrade("venue", "XRPETH", price * 0.7, 10.0, "sell", neighbour.ts, "bad-1")
    resent = RawTrade("venue", "XRPETH", price, 1.0, "buy", neighbour.ts, neighbour.trade_id)
    raws[at:at] = [bad_print, resent]
    assert run_trades(raws) == [(at, "spike"), (at + 1, "duplicate")]
