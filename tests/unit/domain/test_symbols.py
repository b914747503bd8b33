"""Venue symbol spellings -> ccxt unified symbols, and the ones that must be refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.domain.symbols import SymbolError, SymbolMapper, unified_symbol


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("BTC-USD", "BTC/USD"),  # Coinbase
        ("BTC/USD", "BTC/USD"),  # ccxt, Kraken WebSocket
        ("btc_usdt", "BTC/USDT"),  # Gate, Poloniex
        ("BTCUSDT", "BTC/USDT"),  # Binance
        ("XBTUSD", "BTC/USD"),  # BitMEX: XBT is BTC, and it is XBT/USD, not XB/TUSD
        ("XBTUSDT", "BTC/USDT"),
        ("ETHBTC", "ETH/BTC"),
        ("XRPETH", "XRP/ETH"),
        ("BCHEUR", "BCH/EUR"),  # Kraken's dump names
        ("BTC/USDT:USDT", "BTC/USDT:USDT"),  # a linear swap keeps its settle currency
        ("XBT/USD:XBT", "BTC/USD:BTC"),
        ("ETHBUSD", "ETH/BUSD"),  # not ETHB/USD
        ("BTCTUSD", "BTC/TUSD"),  # not BTCT/USD
        ("FDUSDUSDT", "FDUSD/USDT"),
        ("USDCUSDT", "USDC/USDT"),
        ("  eth-usd ", "ETH/USD"),
        ("SOL USDC", "SOL/USDC"),
    ],
)
def test_venue_spellings_become_unified_symbols(raw: str, unified: str) -> None:
    assert unified_symbol(raw) == unified


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "BTC",  # no quote
        "USDT",  # only a quote
        "BTCXYZ",  # no known quote at the end
        "BTC-",
        "-USD",
        "BTC/USD/EUR",
        "BTC--USD",
        "BTC/US$",
        "BTC@USD",
        "😀USDT",
        "A" * 40 + "USDT",
        "USDTUSD",  # USDT/USD or USD/TUSD: ambiguous, so an error rather than a guess
    ],
)
def test_garbage_and_ambiguous_symbols_raise_symbol_error(raw: str) -> None:
    with pytest.raises(SymbolError, match=r"BASE/QUOTE|ambiguous"):
        unified_symbol(raw)


def test_ambiguity_error_names_both_readings() -> None:
    with pytest.raises(SymbolError) as info:
        unified_symbol("USDTUSD")
    assert "USDT/USD" in str(info.value)
    assert "USD/TUSD" in str(info.value)


def test_mapper_caches_and_applies_overrides() -> None:
    mapper = SymbolMapper({"XBTUSDTM": "BTC/USDT:USDT"})
    assert mapper.unified("XBTUSDTM") == "BTC/USDT:USDT"
    assert mapper.unified("BTCUSDT") == "BTC/USDT"
    assert mapper.unified("BTCUSDT") == "BTC/USDT"  # second lookup from the cache
    with pytest.raises(SymbolError):
        mapper.unified("NOTAPAIR")
    with pytest.raises(SymbolError):  # an override must itself be a readable symbol
        SymbolMapper({"X": "nonsense"})


@given(st.text(max_size=40))
def test_any_text_gives_a_pair_or_a_symbol_error(raw: str) -> None:
    try:
        symbol = unified_symbol(raw)
    except SymbolError:
        return
    pair = symbol.split(":")[0]
    base, quote = pair.split("/")
    assert base
    assert quote
    assert symbol == symbol.upper()
