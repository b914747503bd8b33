"""Integer-nanosecond UTC time: a test clock that never goes back, ISO 8601 with Z at the edge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.core.time import (
    NS_PER_DAY,
    NS_PER_MS,
    NS_PER_S,
    LiveClock,
    TestClock,
    iso_to_ns,
    ms_to_ns,
    ns_to_iso,
)

INT64_MAX = 2**63 - 1


def test_test_clock_only_moves_when_told() -> None:
    clock = TestClock(5)
    assert clock.timestamp_ns() == 5
    assert clock.timestamp_ns() == 5
    clock.set_time(10)
    clock.set_time(10)  # staying put is allowed
    clock.advance(7)
    assert clock.timestamp_ns() == 17


def test_test_clock_never_goes_back() -> None:
    clock = TestClock(100)
    with pytest.raises(ValueError, match="backwards"):
        clock.set_time(99)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    assert clock.timestamp_ns() == 100


@given(st.lists(st.integers(min_value=0, max_value=10**18), max_size=30))
def test_test_clock_is_monotonic_under_any_sequence_of_requests(requests: list[int]) -> None:
    clock = TestClock(0)
    seen = [0]
    for ts in requests:
        if ts >= clock.timestamp_ns():
            clock.set_time(ts)
        else:
            with pytest.raises(ValueError, match="backwards"):
                clock.set_time(ts)
        seen.append(clock.timestamp_ns())
    assert seen == sorted(seen)


def test_live_clock_reads_integer_nanoseconds() -> None:
    first = LiveClock().timestamp_ns()
    second = LiveClock().timestamp_ns()
    assert isinstance(first, int)
    assert second >= first > iso_to_ns("2020-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00.000000Z"),
        (1_704_067_200 * NS_PER_S, "2024-01-01T00:00:00.000000Z"),
        (1_704_067_200 * NS_PER_S + 123_456_000, "2024-01-01T00:00:00.123456Z"),
        (NS_PER_DAY - 1_000, "1970-01-01T23:59:59.999999Z"),
    ],
)
def test_ns_to_iso_writes_utc_with_z(ns: int, text: str) -> None:
    assert ns_to_iso(ns) == text
    assert iso_to_ns(text) == ns


def test_ns_to_iso_keeps_microseconds_and_drops_finer_digits() -> None:
    assert ns_to_iso(1_999) == "1970-01-01T00:00:00.000001Z"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-01-01T02:00:00+02:00", 1_704_067_200 * NS_PER_S),
        ("2024-01-01T00:00:00Z", 1_704_067_200 * NS_PER_S),
        ("2024-01-01T00:00:00.5Z", 1_704_067_200 * NS_PER_S + 500 * NS_PER_MS),
    ],
)
def test_iso_to_ns_honours_offsets(text: str, ns: int) -> None:
    assert iso_to_ns(text) == ns


def test_iso_to_ns_refuses_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone"):
        iso_to_ns("2024-01-01T00:00:00")


@given(st.integers(min_value=0, max_value=4_000_000_000 * NS_PER_S // 1000))
def test_iso_round_trip_at_microsecond_resolution_this_century(micros: int) -> None:
    ns = micros * 1000
    text = ns_to_iso(ns)
    assert text.endswith("Z")
    assert iso_to_ns(text) == ns


@given(st.integers(min_value=-(2**62) // 1000, max_value=INT64_MAX // 1000))
def test_iso_round_trip_over_the_whole_int64_range(micros: int) -> None:
    # every int64 nanosecond time the kernel can hold, before 1970 and after 2106 included
    ns = micros * 1000
    assert iso_to_ns(ns_to_iso(ns)) == ns


@pytest.mark.parametrize(
    "ns",
    [
        -500_000_000,  # 1969-12-31T23:59:59.5
        -1_000,
        -NS_PER_DAY + 250_000_000,
        INT64_MAX // 1000 * 1000,
    ],
)
def test_iso_round_trip_before_1970_and_at_the_int64_end(ns: int) -> None:
    assert iso_to_ns(ns_to_iso(ns)) == ns


def test_ms_to_ns() -> None:
    assert ms_to_ns(1_704_067_200_123) == 1_704_067_200_123 * NS_PER_MS
