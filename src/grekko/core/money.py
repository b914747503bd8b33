"""Decimal money and quantities, quantized to an instrument's increments.

Money never passes through float in the domain. Floats exist only in analytics (indicators,
equity curves); `to_decimal` is the one door from a float observation into money.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

ZERO = Decimal(0)
ONE = Decimal(1)


def to_decimal(value: Decimal | int | float | str) -> Decimal:
    """Exact for str/int/Decimal; a float goes through its shortest repr, never its binary expansion."""
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    try:
        number = (
            value
            if isinstance(value, Decimal)
            else Decimal(repr(value) if isinstance(value, float) else value)
        )
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a decimal number: {value!r} is not finite")
    return number


_POWER_OF_TEN: dict[Decimal, bool] = {}


def _is_power_of_ten(increment: Decimal) -> bool:
    known = _POWER_OF_TEN.get(increment)
    if known is None:
        if increment <= 0:
            raise ValueError(f"increment must be positive, got {increment}")
        known = _POWER_OF_TEN[increment] = increment.normalize().as_tuple().digits == (1,)
    return known


def quantize(value: Decimal, increment: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round to a multiple of increment (0.01, 0.5, 1e-8 ...)."""
    known = _POWER_OF_TEN.get(increment)
    if known or (known is None and _is_power_of_ten(increment)):
        return value.quantize(increment, rounding=rounding)  # one C call, the common case
    units = (value / increment).to_integral_value(rounding=rounding)
    return (units * increment).quantize(increment)


def quantize_down(value: Decimal, increment: Decimal) -> Decimal:
    """Round toward zero, for sizes that must never exceed what is available."""
    return quantize(value, increment, ROUND_DOWN)


def precision_of(increment: Decimal) -> int:
    exponent = increment.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
