"""UTC integer-nanosecond time and the Clock protocol that lets one kernel run live or simulated."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import ClassVar, Protocol

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def timestamp_ns(self) -> int: ...


class LiveClock:
    """Wall clock for paper and live trading."""

    __slots__ = ()

    def timestamp_ns(self) -> int:
        return time.time_ns()


class TestClock:
    """A clock that only moves when told, so a backtest is deterministic and runs as fast as possible."""

    __slots__ = ("now_ns",)
    __test__: ClassVar[bool] = False  # not a pytest test class

    def __init__(self, start_ns: int = 0) -> None:
        # a simulation driver that already validated its data's order may assign now_ns directly
        self.now_ns = start_ns

    def timestamp_ns(self) -> int:
        return self.now_ns

    def set_time(self, ts_ns: int) -> None:
        if ts_ns < self.now_ns:
            raise ValueError(f"time cannot go backwards: {ts_ns} < {self.now_ns}")
        self.now_ns = ts_ns

    def advance(self, delta_ns: int) -> None:
        self.set_time(self.now_ns + delta_ns)


def ns_to_iso(ts_ns: int) -> str:
    """ISO 8601 with Z, the API's form."""
    secs, rem = divmod(ts_ns, NS_PER_S)
    dt = datetime.fromtimestamp(secs, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // 1000:06d}Z"


def iso_to_ns(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp needs a timezone (use Z for UTC): {text!r}")
    delta = dt - _EPOCH  # exact integer arithmetic, also before 1970 (float timestamps are not)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def ms_to_ns(ms: int) -> int:
    return ms * NS_PER_MS
