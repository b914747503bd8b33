"""Wall-clock pacing of the replay: `speed` bars per second, against deadlines rather than sleeps.

Each bar's turn is `start + n / speed`, so time spent processing a bar is not added on top of the
wait, and a stop request (a signal) ends a wait at once. A stall longer than `max_lag_s` (a laptop
suspended) moves the schedule instead of bursting through the backlog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    def __init__(
        self,
        speed: float,
        stop: threading.Event,
        *,
        idle_slice_s: float = 0.1,
        max_lag_s: float = 1.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._stop = stop
        self._slice = idle_slice_s
        self._max_lag = max_lag_s
        self._now = now
        self._start: float | None = None
        self._turns = 0

    def wait_turn(self, on_idle: Callable[[], None] | None = None) -> bool:
        """Block until the next bar is due; False when a stop was requested meanwhile."""
        now = self._now()
        if self._start is None:
            self._start = now
        deadline = self._start + self._turns / self.speed
        if now - deadline > self._max_lag:
            self._start = now - self._turns / self.speed
            deadline = now
        self._turns += 1
        while True:
            remaining = deadline - self._now()
            if remaining <= 0:
                return not self._stop.is_set()
            if self._stop.wait(min(remaining, self._slice)):
                return False
            if on_idle is not None:
                on_idle()
