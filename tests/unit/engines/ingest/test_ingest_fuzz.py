"""Fuzzing the ingest pipeline: garbage in, never a crash, every record accounted for.

Records are built with hypothesis from a mix of plausible values (so that some get through and
the invariants of what is published are really checked) and garbage: NaN, inf, negatives,
strings, None, lists, dicts, huge ints, naive ISO times, out-of-order times. A second source of
records is JSON as a venue would send it, possibly truncated or corrupted, decoded with msgspec
into the Raw* types exactly as a WebSocket adapter does.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.core.time import TestClock
from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade
from grekko.domain.streams import StreamDataType, StreamMessage, StreamSpec
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.aggregator import VenueAggregator
from grekko.engines.ingest.enricher import Enricher
from grekko.engines.ingest.pipeline import IngestPipeline
from grekko.engines.ingest.quarantine import Quarantine
from grekko.engines.ingest.validator import ValidationRules, Validator
from grekko.engines.streamer import DataStreamer

T0_MS = 1_618_790_400_000
MAX_NS = 2**63 - 1
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- values ---------------------------------------------------------------------------------

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64]),
    st.integers(4301, 5000).map(lambda digits: 10**digits),  # too long even for str()
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "", " ", "1e999", "0x10", "１２", "1_000", "--1"]),
    st.text(max_size=12),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
good_price = st.one_of(
    st.floats(min_value=90.0, max_value=110.0),
    st.floats(min_value=90.0, max_value=110.0).map(str),
    st.decimals(min_value=90, max_value=110, places=4),
)
good_size = st.one_of(st.floats(min_value=0.001, max_value=50.0), st.just("0.5"))
price = st.one_of(good_price, good_price, st.floats(min_value=-1e6, max_value=1e6), garbage)
size = st.one_of(good_size, good_size, st.floats(min_value=-10.0, max_value=10.0), garbage)
offset_ms = st.integers(min_value=-5_000, max_value=600_000)
ts = st.one_of(
    offset_ms.map(lambda d: T0_MS + d),  # ms
    offset_ms.map(lambda d: (T0_MS + d) * 1_000_000),  # ns
    offset_ms.map(lambda d: (T0_MS + d) / 1000),  # float seconds
    offset_ms.map(lambda d: str(T0_MS + d)),
    offset_ms.map(lambda d: f"2021-04-19T00:{d // 60_000 % 60:02d}:{d // 1000 % 60:02d}Z"),
    st.just("2021-04-19T00:00:00"),  # naive: refused
    st.just("9999-12-31T23:59:59Z"),
    garbage,
)
symbol = st.one_of(
    st.sampled_from(["BTCUSDT", "BTC-USDT", "btc/usdt", "XBTUSD", "ETHBTC", "USDTUSD", "NOPE"]),
    garbage,
)
venue = st.sampled_from(["binance", "coinbase", "kraken", "", "bad@venue", " "])
side = st.one_of(st.sampled_from(["buy", "sell", "b", "S", "", None, "long"]), garbage)
trade_id = st.one_of(st.integers(min_value=0, max_value=50).map(str), st.none(), garbage)


def fits_a_float(value: object) -> bool:
    """Book levels go through domain/order_book.parse_levels, which still lets float(10**400)'s
    OverflowError out (see test_book_levels_with_ints_too_large_for_a_float): kept out of the
    general fuzz until it is fixed, so that this file does not fail at random."""
    return not (isinstance(value, int) and abs(value) > 2**1000)


level_value = st.one_of(good_price, good_size, garbage.filter(fits_a_float))
levels = st.one_of(
    st.lists(st.tuples(level_value, level_value).map(list), max_size=4),
    st.lists(level_value, max_size=3),
    garbage.filter(fits_a_float),
)

raw_trade = st.builds(RawTrade, venue, symbol, price, size, side, ts, trade_id)
raw_bar = st.builds(
    RawBar,
    venue,
    symbol,
    ts,
    price,
    price,
    price,
    price,
    size,
    st.one_of(st.just(60), st.just(60.0), st.just("60"), garbage),
)
raw_quote = st.builds(RawQuote, venue, symbol, price, price, size, size, ts)
raw_book = st.builds(RawBook, venue, symbol, levels, levels, ts, st.one_of(st.integers(), garbage))
foreign = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.builds(dict))


@st.composite
def mostly_good(draw: st.DrawFn) -> object:
    """A sound record of any kind with up to two fields spoiled, so that many get published."""
    kind = draw(st.sampled_from(["trade", "bar", "quote", "book"]))
    when = T0_MS + draw(offset_ms)
    one, two = draw(st.floats(95.0, 105.0)), draw(st.floats(95.0, 105.0))
    where = draw(st.sampled_from(["binance", "coinbase", "kraken"]))
    pair = draw(st.sampled_from(["BTCUSDT", "BTC-USDT", "XBTUSDT"]))
    fields: dict[str, object]
    if kind == "trade":
        fields = {"price": one, "amount": two / 100, "side": draw(side), "ts": when}
        fields["trade_id"] = draw(trade_id)
        maker: type = RawTrade
    elif kind == "bar":
        fields = {"ts": when // 60_000 * 60_000, "open": one, "close": two}
        fields |= {"high": max(one, two) + 0.5, "low": min(one, two) - 0.5, "volume": 3.0}
        maker = RawBar
    elif kind == "quote":
        bid, ask = sorted((one, two))
        fields = {"bid": bid, "ask": ask, "bid_size": 1.0, "ask_size": 2.0, "ts": when}
        maker = RawQuote
    else:
        fields = {"bids": [[str(one - 1), "1"]], "asks": [[str(one + 1), "2"]], "ts": when}
        maker = RawBook
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
        fields[name] = draw(st.one_of(garbage.filter(fits_a_float), st.floats(-200.0, 200.0)))
    return maker(venue=where, symbol=pair, **fields)


record = st.one_of(raw_trade, raw_bar, raw_quote, raw_book, foreign, *[mostly_good()] * 4)

# ---- JSON as a venue sends it ---------------------------------------------------------------

json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    good_price.map(str),
    st.lists(st.integers(), max_size=2),
)
FIELDS = {
    RawTrade: ("venue", "symbol", "price", "amount", "side", "ts", "trade_id"),
    RawBar: ("venue", "symbol", "ts", "open", "high", "low", "close", "volume", "interval_s"),
    RawQuote: ("venue", "symbol", "bid", "ask", "bid_size", "ask_size", "ts"),
    RawBook: ("venue", "symbol", "bids", "asks", "ts", "sequence"),
}


def sound_payload(kind: type, index: int, one: float, two: float) -> dict[str, Any]:
    """What a venue sends for record `index`: strings for numbers, as most venues do."""
    low, high = sorted((one, two))
    when = T0_MS + 60_000 * index
    if kind is RawTrade:
        return {"price": str(one), "amount": "0.25", "side": "buy", "ts": when, "trade_id": index}
    if kind is RawBar:
        ohlc = {"open": str(one), "high": str(high), "low": str(low), "close": str(two)}
        return {**ohlc, "volume": "3.5", "ts": when, "interval_s": 60}
    if kind is RawQuote:
        return {"bid": low, "ask": high, "bid_size": "1", "ask_size": "2", "ts": when}
    return {"bids": [[str(low), "1"]], "asks": [[str(high), "2"]], "ts": when, "sequence": index}


@st.composite
def venue_json(draw: st.DrawFn, index: int) -> tuple[type, bytes]:
    """A sound message, then spoiled: fields dropped or replaced, bytes cut or inserted."""
    kind = draw(st.sampled_from(sorted(FIELDS, key=lambda k: k.__name__)))
    one, two = draw(st.floats(95.0, 105.0)), draw(st.floats(95.0, 105.0))
    payload: dict[str, Any] = {"venue": draw(venue), "symbol": "BTCUSDT"}
    payload |= sound_payload(kind, index, one, two)
    for field in draw(st.lists(st.sampled_from(FIELDS[kind]), max_size=2, unique=True)):
        if draw(st.booleans()):
            del payload[field]
        else:
            payload[field] = draw(json_value)
    data = msgspec.json.encode(payload)
    mangle = draw(st.integers(0, 5))
    if mangle == 1:
        data = data[: draw(st.integers(0, len(data)))]
    elif mangle == 2:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=4)) + data[at:]
    return kind, data


# ---- the rig and the invariants -------------------------------------------------------------


class Rig:
    def __init__(self) -> None:
        self.bus = MessageBus()
        self.clock = TestClock(T0_MS * 1_000_000)
        engine = DataEngine(self.bus, Cache())
        streamer = DataStreamer(self.bus, self.clock)
        streamer.create_stream(
            StreamSpec("fuzz", StreamDataType.MARKET_DATA, buffer_size=1_000_000)
        )
        self.published: list[Any] = []
        streamer.subscribe("fuzz", self._on_message)
        enricher = Enricher(lambda _: None)
        self.bus.subscribe("data.bars.*", enricher.on_bar, priority=100)
        self.books: list[Any] = []
        self.pipeline = IngestPipeline(
            "fuzz",
            clock=self.clock,
            data_engine=engine,
            streamer=streamer,
            enricher=enricher,
            quarantine=Quarantine(),
            validator=Validator(ValidationRules(min_window=4), now_ns=self.clock.timestamp_ns),
            aggregator=VenueAggregator(),
            book_sink=self.books.append,
        )
        self.engine = engine

    def _on_message(self, message: StreamMessage) -> None:
        self.published.append(message.payload)

    def push_all(self, records: list[object]) -> None:
        for raw in records:
            result = self.pipeline.push(raw)
            assert isinstance(result, bool)
        self.engine.flush_aggregators()

    def check(self, count: int) -> None:
        metrics = self.pipeline.metrics
        assert metrics.received == count
        assert metrics.received == metrics.published + metrics.quarantined
        assert self.pipeline.quarantine.total == metrics.quarantined
        assert sum(metrics.quarantined_by_reason.values()) == metrics.quarantined
        assert len(self.published) == metrics.published
        assert self.bus.handler_errors == 0  # enricher, aggregators: nothing blew up downstream
        last_time: dict[str, int] = {}
        for item in self.published:
            if type(item) is TradeTick:
                check_trade(item)
                when = item.ts_event
            elif type(item) is Bar:
                check_bar(item)
                when = item.ts_open
                assert when > last_time.get(item.instrument_id, -1)
            elif type(item) is QuoteTick:
                check_quote(item)
                when = item.ts_event
            else:
                assert item in self.books
                for level_price, level_size in (*item.bids, *item.asks):
                    assert finite_positive(level_price)
                    assert math.isfinite(level_size)
                    assert level_size >= 0
                continue
            assert 0 <= when <= MAX_NS
            assert when >= last_time.get(item.instrument_id, -1), "time went backwards"
            last_time[item.instrument_id] = when


def finite_positive(*values: float) -> bool:
    return all(type(v) is float and math.isfinite(v) and v > 0 for v in values)


def check_trade(tick: TradeTick) -> None:
    assert finite_positive(tick.price, tick.size)
    assert isinstance(tick.trade_id, str)
    assert len(tick.trade_id) <= 100


def check_bar(bar: Bar) -> None:
    assert finite_positive(bar.open, bar.high, bar.low, bar.close)
    assert math.isfinite(bar.volume)
    assert bar.volume >= 0
    assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
    assert bar.ts_open <= bar.ts_event <= MAX_NS


def check_quote(quote: QuoteTick) -> None:
    assert finite_positive(quote.bid, quote.ask)
    assert quote.bid <= quote.ask
    assert quote.bid_size >= 0
    assert quote.ask_size >= 0


# ---- properties -----------------------------------------------------------------------------


@FUZZ
@given(st.lists(record, max_size=60))
def test_garbage_records_never_crash_and_are_all_accounted_for(records: list[object]) -> None:
    rig = Rig()
    rig.push_all(records)
    rig.check(len(records))


@FUZZ
@given(st.lists(st.one_of(raw_book, raw_trade), max_size=40))
def test_garbage_books_are_handed_to_the_sink_or_quarantined(records: list[object]) -> None:
    rig = Rig()
    rig.push_all(records)
    rig.check(len(records))


@pytest.mark.parametrize(
    "bids",
    [[[10**400, 1]], [["1", 10**400]], [[10**5000]]],
    ids=["price", "size", "unprintable"],
)
def test_book_levels_with_ints_too_large_for_a_float(bids: list[list[object]]) -> None:
    rig = Rig()
    assert not rig.pipeline.push(RawBook("binance", "BTCUSDT", bids, [["2", "1"]], T0_MS))
    assert rig.pipeline.metrics.quarantined_by_reason == {"schema.levels": 1}


venue_messages = st.integers(0, 30).flatmap(
    lambda count: st.tuples(*[venue_json(index) for index in range(count)])
)


@FUZZ
@given(venue_messages)
def test_decoded_venue_json_never_crashes(messages: tuple[tuple[type, bytes], ...]) -> None:
    decoded: list[object] = []
    for kind, data in messages:
        try:
            decoded.append(msgspec.json.decode(data, type=kind))
        except (msgspec.MsgspecError, UnicodeDecodeError):
            # the adapter's own decode error, never reaching the pipeline; note that msgspec
            # raises UnicodeDecodeError, not a DecodeError, for invalid UTF-8 inside a string
            continue
    rig = Rig()
    rig.push_all(decoded)
    rig.check(len(decoded))


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["BTCUSDT", "ETHUSDT"]),
            st.floats(min_value=99.0, max_value=101.0),
            st.integers(min_value=0, max_value=120_000),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_out_of_order_times_are_quarantined_never_published(
    rows: list[tuple[str, float, int]],
) -> None:
    records: list[object] = []
    for pair, value, offset in rows:
        records.append(RawTrade("binance", pair, value, 1.0, "buy", T0_MS + offset))
        records.append(
            RawBar("binance", pair, (T0_MS + offset) // 60_000 * 60, value, value, value, value, 1)
        )
    rig = Rig()
    rig.push_all(records)
    rig.check(len(records))
    reasons = set(rig.pipeline.metrics.quarantined_by_reason)
    assert reasons <= {"out_of_order", "duplicate"}


@FUZZ
@given(
    st.one_of(
        st.floats(min_value=1e90, max_value=1e300),
        st.integers(min_value=2**300, max_value=2**1000),
        st.decimals(min_value=Decimal("1e90"), max_value=Decimal("1e400"), places=0),
    ),
    st.lists(st.floats(min_value=0.99, max_value=1.01), min_size=20, max_size=40),
)
def test_huge_numbers_are_rejected_or_kept_finite(base: object, moves: list[float]) -> None:
    """A run of huge but self-consistent prices: enough bars for every indicator to warm up."""
    records: list[object] = []
    for i, move in enumerate(moves):
        value: object = base * move if isinstance(base, float) else base * int(move * 1000)  # type: ignore[operator]
        text = str(value) if i % 2 else value
        records.append(RawTrade("binance", "BTCUSDT", text, text, "buy", T0_MS + 60_000 * i))
        records.append(RawBar("binance", "BTCUSDT", T0_MS + 60_000 * i, text, text, text, text, 1))
        records.append(RawQuote("binance", "BTCUSDT", text, text, 1, 1, T0_MS + 60_000 * i))
    rig = Rig()
    rig.push_all(records)
    rig.check(len(records))
