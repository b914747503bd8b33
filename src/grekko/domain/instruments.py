"""Instruments: what can be traded, where, and at which increments."""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec

from grekko.core.ids import InstrumentId, instrument_id
from grekko.core.money import ZERO, quantize, quantize_down, to_decimal
from grekko.domain.enums import AssetClass


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str  # ccxt unified form: BTC/USDT
    venue: str
    base: str
    quote: str
    price_increment: Decimal
    size_increment: Decimal
    min_notional: Decimal = ZERO
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    asset_class: AssetClass = AssetClass.CRYPTO_SPOT

    def __post_init__(self) -> None:
        if self.price_increment <= 0 or self.size_increment <= 0:
            raise ValueError(f"{self.symbol}: increments must be positive")
        if self.maker_fee < -1 or self.taker_fee < 0:
            raise ValueError(f"{self.symbol}: fee rates out of range")

    @property
    def id(self) -> InstrumentId:
        return instrument_id(self.symbol, self.venue)

    def make_price(self, value: Decimal | float | int | str) -> Decimal:
        if type(value) is float and math.isfinite(value):  # the venue's path, once per fill
            return quantize(Decimal(repr(value)), self.price_increment)
        return quantize(to_decimal(value), self.price_increment)

    def make_qty(self, value: Decimal | float | int | str) -> Decimal:
        return quantize_down(to_decimal(value), self.size_increment)

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        return quantity * price


def spot(
    symbol: str,
    venue: str = "paper",
    *,
    price_increment: str = "0.01",
    size_increment: str = "0.000001",
    fee: str = "0.001",
    min_notional: str = "0",
) -> Instrument:
    """A crypto spot pair with the same maker and taker fee, the common case."""
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote:
        raise ValueError(f"symbol must be ccxt unified form like BTC/USDT, got {symbol!r}")
    return Instrument(
        symbol=symbol,
        venue=venue,
        base=base,
        quote=quote,
        price_increment=Decimal(price_increment),
        size_increment=Decimal(size_increment),
        min_notional=Decimal(min_notional),
        maker_fee=Decimal(fee),
        taker_fee=Decimal(fee),
    )
