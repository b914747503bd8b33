"""Typed ids: instrument ids as symbol@venue, deterministic sequential order ids."""

from __future__ import annotations

import pytest

from grekko.core.ids import IdGenerator, instrument_id, split_instrument_id


def test_instrument_id_joins_symbol_and_venue() -> None:
    assert instrument_id("BTC/USDT", "paper") == "BTC/USDT@paper"


@pytest.mark.parametrize(
    ("iid", "parts"),
    [
        ("BTC/USDT@paper", ("BTC/USDT", "paper")),
        ("ETH/USDT:USDT@binance", ("ETH/USDT:USDT", "binance")),
        ("a@b@c", ("a@b", "c")),  # the venue is after the last @
    ],
)
def test_split_instrument_id(iid: str, parts: tuple[str, str]) -> None:
    assert split_instrument_id(iid) == parts
    assert instrument_id(*split_instrument_id(iid)) == iid


@pytest.mark.parametrize("bad", ["BTC/USDT", "@paper", "BTC/USDT@", "", "@"])
def test_split_instrument_id_rejects_malformed_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="instrument id"):
        split_instrument_id(bad)


def test_id_generator_is_sequential_and_deterministic() -> None:
    first = IdGenerator("O-s")
    second = IdGenerator("O-s")
    ids = [first.next() for _ in range(3)]
    assert ids == ["O-s-1", "O-s-2", "O-s-3"]
    assert [second.next() for _ in range(3)] == ids


def test_id_generator_start_and_advance_past() -> None:
    gen = IdGenerator("X", start=10)
    assert gen.next() == "X-10"
    gen.advance_past(41)  # ids up to 41 were handed out before a restart
    assert gen.next() == "X-42"
    assert gen.next() == "X-43"
