"""Decimal money: exact conversion into money and rounding to an instrument's increments."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.core.money import ONE, ZERO, precision_of, quantize, quantize_down, to_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.1", Decimal("0.1")),
        ("-12.3400", Decimal("-12.3400")),
        (7, Decimal(7)),
        (10**30, Decimal(10**30)),
        (Decimal("2.50"), Decimal("2.50")),
    ],
)
def test_to_decimal_is_exact_for_str_int_and_decimal(value: object, expected: Decimal) -> None:
    result = to_decimal(value)  # type: ignore[arg-type]
    assert result == expected
    assert str(result) == str(expected)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1, "0.1"), (0.3, "0.3"), (92792.05, "92792.05"), (1e-8, "1E-8"), (-2.5, "-2.5")],
)
def test_to_decimal_takes_a_float_through_its_shortest_repr(value: float, text: str) -> None:
    assert to_decimal(value) == Decimal(text)
    assert to_decimal(value) != Decimal(value) or Decimal(value) == Decimal(text)


def test_to_decimal_of_float_sum_keeps_the_float_error_visible() -> None:
    # 0.1 + 0.2 is 0.30000000000000004 as a float: the repr says so and so must the money
    assert to_decimal(0.1 + 0.2) == Decimal("0.30000000000000004")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_to_decimal_round_trips_every_finite_float(value: float) -> None:
    assert float(to_decimal(value)) == value


@pytest.mark.parametrize("value", [True, False])
def test_to_decimal_rejects_bool(value: bool) -> None:
    with pytest.raises(TypeError, match="bool"):
        to_decimal(value)


@pytest.mark.parametrize("value", ["abc", "", "1,5", "1.2.3"])
def test_to_decimal_rejects_text_that_is_not_a_number(value: str) -> None:
    with pytest.raises(ValueError, match="not a decimal"):
        to_decimal(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "NaN", "Infinity"])
def test_to_decimal_rejects_values_that_are_not_finite_amounts(value: object) -> None:
    # a NaN price or an infinite quantity is never an amount of money
    with pytest.raises(ValueError, match="not a decimal"):
        to_decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "increment", "expected"),
    [
        ("1.005", "0.01", "1.00"),  # half-even: the tie goes to the even cent
        ("1.015", "0.01", "1.02"),
        ("1.0149", "0.01", "1.01"),
        ("1.3", "0.5", "1.5"),
        ("1.2", "0.5", "1.0"),
        ("-1.005", "0.01", "-1.00"),
        ("123.456789", "1", "123"),
        ("0.123456789", "0.00000001", "0.12345679"),
        ("12", "0.01", "12.00"),
    ],
)
def test_quantize_rounds_half_even_to_the_increment(
    value: str, increment: str, expected: str
) -> None:
    result = quantize(Decimal(value), Decimal(increment))
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == Decimal(increment).as_tuple().exponent


def test_quantize_accepts_another_rounding_mode() -> None:
    assert quantize(Decimal("1.005"), Decimal("0.01"), ROUND_HALF_UP) == Decimal("1.01")


@pytest.mark.parametrize(
    ("value", "increment", "expected"),
    [("1.239", "0.01", "1.23"), ("-1.239", "0.01", "-1.23"), ("0.0000019", "0.000001", "0.000001")],
)
def test_quantize_down_rounds_toward_zero(value: str, increment: str, expected: str) -> None:
    assert quantize_down(Decimal(value), Decimal(increment)) == Decimal(expected)


@pytest.mark.parametrize("increment", ["0", "-0.01"])
def test_quantize_rejects_a_non_positive_increment(increment: str) -> None:
    with pytest.raises(ValueError, match="increment must be positive"):
        quantize(ONE, Decimal(increment))


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=10),
    st.sampled_from(["0.01", "0.5", "0.000001", "1", "0.25"]),
)
def test_quantized_values_are_multiples_of_the_increment_within_half_a_step(
    value: Decimal, increment_text: str
) -> None:
    increment = Decimal(increment_text)
    result = quantize(value, increment)
    assert result % increment == ZERO
    assert abs(result - value) <= increment / 2
    down = quantize_down(value, increment)
    assert down % increment == ZERO
    assert abs(down) <= abs(value)
    assert abs(value - down) < increment


@pytest.mark.parametrize(
    ("increment", "digits"),
    [("0.01", 2), ("1", 0), ("0.50", 1), ("1E+1", 0), ("0.00000001", 8), ("5", 0)],
)
def test_precision_of_counts_decimal_places(increment: str, digits: int) -> None:
    assert precision_of(Decimal(increment)) == digits
