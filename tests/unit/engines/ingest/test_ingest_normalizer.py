"""Normalizer: raw payload values -> Bar / TradeTick / QuoteTick, or a `schema.<field>` rejection."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.domain.enums import OrderSide
from grekko.domain.raw import RawBar, RawQuote, RawTrade
from grekko.domain.symbols import SymbolMapper
from grekko.engines.ingest.normalizer import Normalizer, epoch_ns, number
from grekko.engines.ingest.quarantine import Rejected

T_S = 1_618_790_400  # 2021-04-19T00:00:00Z, the first bundled bar
T_NS = T_S * 10**9


def trade(**fields: object) -> RawTrade:
    values: dict[str, object] = {
        "venue": "binance",
        "symbol": "BTCUSDT",
        "price": "56150.01",
        "amount": "0.5",
        "side": "buy",
        "ts": T_S * 1000,
        "trade_id": "1",
    }
    values.update(fields)
    return RawTrade(**values)  # type: ignore[arg-type]


def rejected_reason(call: object) -> str:
    assert callable(call)
    with pytest.raises(Rejected) as info:
        call()
    return info.value.reason


@pytest.mark.parametrize(
    "value",
    [
        T_S,  # seconds
        T_S * 1000,  # milliseconds
        T_S * 10**6,  # microseconds
        T_NS,  # nanoseconds
        float(T_S),
        str(T_S * 1000),
        str(T_NS),
        Decimal(T_S),
        "2021-04-19T00:00:00Z",
        "2021-04-19T00:00:00+00:00",
        "2021-04-19T02:00:00+02:00",
        "2021-04-18T20:00:00-04:00",
        " 2021-04-19T00:00:00.000000Z ",
    ],
)
def test_every_timestamp_form_gives_the_same_utc_ns(value: object) -> None:
    assert epoch_ns(value) == T_NS


def test_fractional_timestamps_keep_their_fraction() -> None:
    # a float of epoch seconds holds about 0.24 µs of precision today: that much is all it can keep
    assert abs(epoch_ns(1_618_790_400.25) - (T_NS + 250_000_000)) < 1_000
    assert abs(epoch_ns(1_618_790_400_123.0) - (T_NS + 123_000_000)) < 1_000
    assert epoch_ns(Decimal("1618790400.5")) == T_NS + 500_000_000
    assert epoch_ns("2021-04-19T00:00:00.123456Z") == T_NS + 123_456_000


@pytest.mark.parametrize(
    "value",
    [
        "2021-04-19T00:00:00",  # naive: which zone? refused, never guessed
        "2021-04-19 00:00:00",
        "not a time",
        "",
        "1969-12-31T23:59:59Z",
        "9999-12-31T23:59:59Z",  # past int64 nanoseconds
        -1,
        -1.5,
        10**30,
        1e30,
        float("nan"),
        float("inf"),
        True,
        None,
        [T_S],
        {"ts": T_S},
    ],
)
def test_bad_timestamps_are_schema_ts(value: object) -> None:
    assert rejected_reason(lambda: epoch_ns(value)) == "schema.ts"


def test_naive_iso_rejection_says_why() -> None:
    with pytest.raises(Rejected, match="without a time zone"):
        epoch_ns("2021-04-19T00:00:00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("56150.01", 56150.01),
        (Decimal("56150.01"), 56150.01),
        (56150, 56150.0),
        (56150.01, 56150.01),
        ("1e-8", 1e-8),
        (10**50, 1e50),
        (-3, -3.0),  # the sign is the validator's business
    ],
)
def test_numbers_from_strings_decimals_ints_and_floats(value: object, expected: float) -> None:
    assert number(value, "price") == expected


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        "nan",
        "inf",
        "abc",
        "",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        10**400,  # too large for a float
        10**200,  # a float, but no price or amount is that large
        True,
        None,
        [1.0],
        {"price": 1.0},
        b"1.0",
    ],
)
def test_non_numbers_are_schema_field(value: object) -> None:
    assert rejected_reason(lambda: number(value, "price")) == "schema.price"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("price", float("nan"), "schema.price"),
        ("price", None, "schema.price"),
        ("amount", "lots", "schema.amount"),
        ("amount", [], "schema.amount"),
        ("ts", "2021-04-19T00:00:00", "schema.ts"),
        ("ts", True, "schema.ts"),
        ("side", "long", "schema.side"),
        ("side", 1, "schema.side"),
        # str() of it raises: still a rejection, not a crash
        pytest.param("side", 10**5000, "schema.side", id="side-int-too-long-for-str"),
        ("symbol", 42, "schema.symbol"),
        ("symbol", "NOTAPAIR", "schema.symbol"),
        ("symbol", None, "schema.symbol"),
        ("venue", "", "schema.venue"),
        ("venue", "bin@nce", "schema.venue"),
    ],
)
def test_trade_field_errors_name_the_field(field: str, value: object, reason: str) -> None:
    normalizer = Normalizer()
    assert rejected_reason(lambda: normalizer.trade(trade(**{field: value}))) == reason


def test_trade_from_string_payload() -> None:
    tick = Normalizer().trade(trade())
    assert tick.instrument_id == "BTC/USDT@binance"
    assert tick.price == 56150.01
    assert tick.size == 0.5
    assert tick.aggressor is OrderSide.BUY
    assert tick.trade_id == "1"
    assert tick.ts_event == T_NS


@pytest.mark.parametrize(
    ("side", "expected"),
    [
        ("sell", OrderSide.SELL),
        ("S", OrderSide.SELL),
        ("ask", OrderSide.SELL),
        ("Buy", OrderSide.BUY),
        ("b", OrderSide.BUY),
        (OrderSide.SELL, OrderSide.SELL),
    ],
)
def test_side_spellings(side: object, expected: OrderSide) -> None:
    assert Normalizer().trade(trade(side=side)).aggressor is expected


def test_integer_and_huge_trade_ids_become_bounded_strings() -> None:
    normalizer = Normalizer()
    assert normalizer.trade(trade(trade_id=553287559)).trade_id == "553287559"
    assert normalizer.trade(trade(trade_id=None, ts=T_S * 1000 + 1)).trade_id == ""
    huge = normalizer.trade(trade(trade_id=10**5000, ts=T_S * 1000 + 2)).trade_id
    assert huge == "<int>"  # str() of it raises; the id is kept as a marker, not a crash
    long_id = normalizer.trade(trade(trade_id=["x"] * 100, ts=T_S * 1000 + 3)).trade_id
    assert len(long_id) == 100


def test_tick_rule_fills_missing_sides() -> None:
    """Up-tick buy, down-tick sell, unchanged repeats the last side; the first trade is a buy."""
    normalizer = Normalizer()
    prices = ["100", "101", "101", "100.5", "100.5", "102"]
    sides = [normalizer.trade(trade(price=p, side=None)).aggressor for p in prices]
    B, S = OrderSide.BUY, OrderSide.SELL  # noqa: N806
    assert sides == [B, B, B, S, S, B]
    # an explicit side sets the side an unchanged price repeats; "" also means missing
    assert normalizer.trade(trade(price="102", side="sell")).aggressor is S
    assert normalizer.trade(trade(price="102", side="")).aggressor is S


def test_tick_rule_is_per_instrument() -> None:
    normalizer = Normalizer()
    normalizer.trade(trade(symbol="BTCUSDT", price="100", side=None))
    normalizer.trade(trade(symbol="BTCUSDT", price="99", side=None))
    eth = normalizer.trade(trade(symbol="ETHUSDT", price="50", side=None))
    assert eth.aggressor is OrderSide.BUY  # ETH's first trade, untouched by BTC's down-tick


def test_a_trade_rejected_for_its_time_does_not_move_the_tick_rule() -> None:
    normalizer = Normalizer()
    normalizer.trade(trade(price="100", side=None))
    with pytest.raises(Rejected):
        normalizer.trade(trade(price="50", side=None, ts="yesterday"))
    assert normalizer.trade(trade(price="100", side=None)).aggressor is OrderSide.BUY


def test_amount_decimals_scale_base_units() -> None:
    normalizer = Normalizer(amount_decimals={"WETHUSDC": 18})
    tick = normalizer.trade(trade(symbol="WETHUSDC", amount=str(25 * 10**17)))
    assert tick.size == pytest.approx(2.5)
    assert normalizer.trade(trade(amount="2.5", ts=T_S * 1000 + 1)).size == 2.5  # not scaled


def test_instrument_ids_are_cached_per_venue_and_symbol() -> None:
    normalizer = Normalizer(SymbolMapper({"XBTUSDTM": "BTC/USDT:USDT"}))
    assert normalizer.instrument("coinbase", "BTC-USD") == "BTC/USD@coinbase"
    assert normalizer.instrument("coinbase", "BTC-USD") is normalizer.instrument(
        "coinbase", "BTC-USD"
    )
    assert normalizer.instrument("kraken", "XBTUSD") == "BTC/USD@kraken"
    assert normalizer.instrument("kucoin", "XBTUSDTM") == "BTC/USDT:USDT@kucoin"


def test_bar_from_real_bundled_rows() -> None:
    bars = load_bars(bundled_files()[0])
    ts_open, ts_close, o, h, low, c, v = next(iter_bar_rows(bars))
    raw = RawBar("binance", "BTCUSDT", ts_open // 10**6, str(o), str(h), str(low), str(c), v)
    bar = Normalizer().bar(raw)
    assert bar.instrument_id == "BTC/USDT@binance"
    assert (bar.open, bar.high, bar.low, bar.close) == (56150.01, 56244.17, 56132.0, 56234.8)
    assert bar.volume == v
    assert bar.ts_open == ts_open
    assert bar.ts_event == ts_close


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("open", "x", "schema.open"),
        ("high", None, "schema.high"),
        ("low", float("inf"), "schema.low"),
        ("close", [], "schema.close"),
        ("volume", "NaN", "schema.volume"),
        ("interval_s", 0, "schema.interval_s"),
        ("interval_s", 40 * 86_400, "schema.interval_s"),
        ("interval_s", "1m", "schema.interval_s"),
        ("ts", "2021-04-19", "schema.ts"),
        ("ts", 2**63 - 1, "schema.ts"),  # its close time would not fit in int64 ns
    ],
)
def test_bar_field_errors(field: str, value: object, reason: str) -> None:
    values: dict[str, object] = {
        "venue": "binance",
        "symbol": "BTCUSDT",
        "ts": T_S,
        "open": 1.0,
        "high": 2.0,
        "low": 0.5,
        "close": 1.5,
        "volume": 3.0,
        "interval_s": 60,
    }
    values[field] = value
    raw = RawBar(**values)  # type: ignore[arg-type]
    assert rejected_reason(lambda: Normalizer().bar(raw)) == reason


def test_quote_and_its_field_errors() -> None:
    normalizer = Normalizer()
    quote = normalizer.quote(RawQuote("huobi", "BTC-USD", "8629.2", "8629.3", 806, 5494, T_S))
    assert (quote.instrument_id, quote.bid, quote.ask) == ("BTC/USD@huobi", 8629.2, 8629.3)
    assert (quote.bid_size, quote.ask_size, quote.ts_event) == (806.0, 5494.0, T_NS)
    bad = RawQuote("huobi", "BTC-USD", "8629.2", None, 806, 5494, T_S)
    assert rejected_reason(lambda: normalizer.quote(bad)) == "schema.ask"
