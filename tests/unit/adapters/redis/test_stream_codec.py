"""The stream codec: every domain message round-trips exactly through msgpack; bad entries are named."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.adapters.redis.codec import (
    EVENT_ID_FIELD,
    PAYLOAD_FIELD,
    TYPE_FIELD,
    MessageCodec,
    MessageDecodeError,
)
from grekko.core.errors import ConfigError, DataError
from grekko.domain.agents import ProposalLeg, ProposalType, TradingProposal
from grekko.domain.commands import SubmitOrder
from grekko.domain.data import Bar, TradeTick
from grekko.domain.enums import OrderSide, OrderType
from grekko.domain.events import AgentConfigured, OrderFilled, ProposalSubmitted, StoredEvent
from grekko.ports.streams import UnknownMessageType

CODEC = MessageCodec.default()
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=8)
floats = st.floats(allow_nan=False, allow_infinity=False)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)  # msgpack's ints; ns timestamps fit
ids = st.text(min_size=1, max_size=40)


def round_trip(message: msgspec.Struct, event_id: str = "ev-1") -> msgspec.Struct:
    name, got_id, decoded = CODEC.decode(CODEC.encode(message, event_id))
    assert (name, got_id) == (type(message).__name__, event_id)
    assert type(decoded) is type(message)
    return decoded


def test_the_default_registry_holds_every_stored_event_and_the_bus_messages() -> None:
    stored = {cls.__name__ for cls in StoredEvent.__args__}  # type: ignore[attr-defined]
    assert stored <= CODEC.names()
    assert {"PositionChanged", "SubmitOrder", "CancelOrder", "Bar", "TradeTick", "QuoteTick"} <= (
        CODEC.names()
    )
    assert {"TradingProposal", "Vote", "AgentMessage", "NewsItem", "BookSnapshot"} <= CODEC.names()


@given(
    st.builds(
        OrderFilled,
        ts_event=int64,
        last_qty=decimals,
        last_px=decimals,
        fee=decimals,
        client_order_id=ids,
        trade_id=ids,
    ),
    ids,
)
def test_order_fills_round_trip_exactly(event: OrderFilled, event_id: str) -> None:
    decoded = round_trip(event, event_id)
    assert decoded == event
    assert isinstance(decoded, OrderFilled)
    assert str(decoded.last_px) == str(event.last_px)  # Decimal text, exponent and all


@given(
    st.builds(
        Bar,
        open=floats,
        high=floats,
        low=floats,
        close=floats,
        volume=floats,
        ts_open=int64,
        ts_event=int64,
    )
)
def test_bars_round_trip_bit_for_bit(bar: Bar) -> None:
    assert round_trip(bar) == bar


@given(st.builds(SubmitOrder, ts_init=int64, quantity=decimals, price=st.none() | decimals))
def test_commands_round_trip(command: SubmitOrder) -> None:
    assert round_trip(command) == command


def test_nested_and_mapping_fields_round_trip() -> None:
    proposal = TradingProposal(
        proposal_id="P-1",
        proposer="gekko",
        proposal_type=ProposalType.COMPLEX,
        instrument_id="BTC/USDT",
        quantity=Decimal("0.5"),
        legs=(
            ProposalLeg(instrument_id="BTC/USDT", side=OrderSide.BUY, quantity=Decimal("0.5")),
            ProposalLeg(
                instrument_id="ETH/USDT",
                side=OrderSide.SELL,
                quantity=Decimal("7.25"),
                order_type=OrderType.LIMIT,
                price=Decimal("2500.01"),
            ),
        ),
    )
    assert round_trip(ProposalSubmitted(ts_event=1, proposal_id="P-1", proposal=proposal)) == (
        ProposalSubmitted(ts_event=1, proposal_id="P-1", proposal=proposal)
    )
    configured = AgentConfigured(
        ts_event=2,
        agent_id="gordo",
        enabled=True,
        risk_budget_pct=Decimal("0.05"),
        params={"a": "1"},
    )
    assert round_trip(configured) == configured


def test_an_unregistered_type_is_refused_on_encode() -> None:
    class Unlisted(msgspec.Struct, frozen=True):
        x: int

    with pytest.raises(UnknownMessageType, match="Unlisted is not registered"):
        CODEC.encode(Unlisted(1), "ev")

    class OrderFilledLookalike(OrderFilled, frozen=True, tag=True, kw_only=True):
        pass  # a subclass is a different type: its entries would decode as the base

    with pytest.raises(UnknownMessageType):
        CODEC.encode(OrderFilledLookalike(**msgspec.structs.asdict(_fill())), "ev")


def test_an_entry_naming_an_unknown_type_says_which() -> None:
    fields = CODEC.encode(_fill(), "ev-9")
    only_bars = MessageCodec([Bar])
    with pytest.raises(UnknownMessageType, match="'OrderFilled'"):
        only_bars.decode(fields)
    assert isinstance(UnknownMessageType("x"), DataError)


@pytest.mark.parametrize(
    "fields",
    [
        {TYPE_FIELD: b"OrderFilled", EVENT_ID_FIELD: b"ev"},  # no payload
        {EVENT_ID_FIELD: b"ev", PAYLOAD_FIELD: b"\x80"},  # no type
        {TYPE_FIELD: b"\xff\xfe", EVENT_ID_FIELD: b"ev", PAYLOAD_FIELD: b"\x80"},  # not UTF-8
        {TYPE_FIELD: b"OrderFilled", EVENT_ID_FIELD: b"ev", PAYLOAD_FIELD: b"\xc1"},  # not msgpack
    ],
)
def test_malformed_entries_raise_a_decode_error(fields: dict[bytes, bytes]) -> None:
    with pytest.raises(MessageDecodeError):
        CODEC.decode(fields)


def test_a_payload_of_another_type_does_not_pass_as_the_named_one() -> None:
    tick = TradeTick("BTC/USDT", 1.0, 2.0, OrderSide.BUY, "t-1", 3)
    fields = CODEC.encode(tick, "ev") | {TYPE_FIELD: b"OrderFilled"}
    with pytest.raises(MessageDecodeError, match="OrderFilled payload does not decode"):
        CODEC.decode(fields)


def test_registration_rules() -> None:
    codec = MessageCodec([Bar])
    codec.register(Bar)  # idempotent
    impostor = type("Bar", (msgspec.Struct,), {"__annotations__": {"x": int}})
    with pytest.raises(ConfigError, match="'Bar' is taken"):
        codec.register(impostor)
    with pytest.raises(ConfigError, match="not a msgspec Struct"):
        codec.register(dict)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="non-empty event_id"):
        codec.encode(Bar("X", 1, 1, 1, 1, 1, 0, 0), "")


def test_a_value_msgpack_cannot_carry_is_a_data_error_at_encode() -> None:
    with pytest.raises(DataError, match="Bar cannot be encoded"):
        CODEC.encode(Bar("X", 1, 1, 1, 1, 1, 0, 2**64), "ev")


def _fill() -> OrderFilled:
    from grekko.domain.enums import LiquiditySide

    return OrderFilled(
        ts_event=5,
        client_order_id="O-1",
        venue_order_id="V-1",
        trade_id="T-1",
        instrument_id="BTC/USDT",
        strategy_id="s",
        side=OrderSide.BUY,
        last_qty=Decimal("0.1"),
        last_px=Decimal("42000.5"),
        fee=Decimal("0.01"),
        fee_currency="USDT",
        liquidity=LiquiditySide.MAKER,
    )
