"""Instruments quantize money at their increments; stored events survive the JSON codec exactly."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from grekko.domain.enums import LiquiditySide, OrderSide, OrderType, TimeInForce, TradingState
from grekko.domain.events import (
    AccountFunded,
    CircuitBreakerTripped,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    TradingStateChanged,
    decode_event,
    encode_event,
    event_type_name,
)
from grekko.domain.instruments import Instrument, spot


def test_spot_instrument_fields_and_id() -> None:
    btc = spot("BTC/USDT", price_increment="0.1", size_increment="0.001", fee="0.0005")
    assert (btc.base, btc.quote, btc.venue) == ("BTC", "USDT", "paper")
    assert btc.id == "BTC/USDT@paper"
    assert btc.maker_fee == btc.taker_fee == Decimal("0.0005")


def test_make_price_rounds_half_even_and_make_qty_rounds_down() -> None:
    btc = spot("BTC/USDT", price_increment="0.01", size_increment="0.001")
    assert btc.make_price(92792.045) == Decimal("92792.04")  # the float's repr is ...045
    assert btc.make_price("100.005") == Decimal("100.00")
    assert btc.make_price(7) == Decimal("7.00")
    assert btc.make_qty(0.0129) == Decimal("0.012")
    assert btc.make_qty("1.9999") == Decimal("1.999")
    assert btc.notional(Decimal("0.5"), Decimal(100)) == Decimal(50)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "/USDT", "BTC/", ""])
def test_spot_refuses_a_symbol_not_in_unified_form(symbol: str) -> None:
    with pytest.raises(ValueError, match="unified form"):
        spot(symbol)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price_increment", Decimal(0), "increments"),
        ("size_increment", Decimal(-1), "increments"),
        ("taker_fee", Decimal("-0.001"), "fee"),
    ],
)
def test_instrument_validates_increments_and_fees(field: str, value: Decimal, message: str) -> None:
    fields = {
        "symbol": "BTC/USDT",
        "venue": "paper",
        "base": "BTC",
        "quote": "USDT",
        "price_increment": Decimal("0.01"),
        "size_increment": Decimal("0.001"),
        field: value,
    }
    with pytest.raises(ValueError, match=message):
        Instrument(**fields)  # type: ignore[arg-type]


EVENTS: list[Event] = [
    OrderInitialized(
        ts_event=1,
        client_order_id="O-s-1",
        strategy_id="s",
        instrument_id="BTC/USDT@paper",
        side=OrderSide.BUY,
        order_type=OrderType.STOP_LIMIT,
        quantity=Decimal("0.00000001"),
        price=Decimal("92792.05"),
        trigger_price=Decimal("92800.10"),
        time_in_force=TimeInForce.FOK,
        reduce_only=True,
    ),
    OrderDenied(ts_event=2, client_order_id="O-s-1", reason="no"),
    OrderSubmitted(ts_event=2, client_order_id="O-s-1"),
    OrderAccepted(ts_event=3, client_order_id="O-s-1", venue_order_id="P-O-s-1"),
    OrderRejected(ts_event=3, client_order_id="O-s-1", reason="venue says no"),
    OrderTriggered(ts_event=4, client_order_id="O-s-1"),
    OrderFilled(
        ts_event=5,
        client_order_id="O-s-1",
        venue_order_id="P-O-s-1",
        trade_id="T-1",
        instrument_id="BTC/USDT@paper",
        strategy_id="s",
        side=OrderSide.SELL,
        last_qty=Decimal("1.23456789"),
        last_px=Decimal("0.1"),
        fee=Decimal("1.2345678900E-7"),
        fee_currency="USDT",
        liquidity=LiquiditySide.MAKER,
    ),
    OrderCanceled(ts_event=6, client_order_id="O-s-1", reason="kill switch"),
    OrderExpired(ts_event=7, client_order_id="O-s-1"),
    AccountFunded(ts_event=0, account_id="main", currency="USDT", amount=Decimal("-10.50")),
    TradingStateChanged(ts_event=8, state=TradingState.REDUCING, reason="manual"),
    CircuitBreakerTripped(ts_event=9, breaker="max_drawdown", reason="-6%"),
]


@pytest.mark.parametrize("event", EVENTS, ids=event_type_name)
def test_stored_events_round_trip_through_json_exactly(event: Event) -> None:
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert type(decoded) is type(event)
    for name in event.__struct_fields__:
        value = getattr(event, name)
        if isinstance(value, Decimal):
            assert str(getattr(decoded, name)) == str(value)  # exponent kept, not only value


def test_events_are_immutable() -> None:
    event = OrderSubmitted(ts_event=1, client_order_id="x")
    with pytest.raises(AttributeError):
        event.ts_event = 2  # type: ignore[misc]


def test_decode_refuses_unknown_event_types() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_event(b'{"type":"Nope","ts_event":1}')
