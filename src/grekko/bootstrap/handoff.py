"""Blocking chain work on worker threads, its results back on the kernel's thread.

The kernel is single-threaded. When an event loop runs it (`grekko up` serving), results come
back through it; otherwise (the terminal session) they wait in a queue drained on every bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
from concurrent.futures import ThreadPoolExecutor

from grekko.ports.venue import Job

log = logging.getLogger("grekko.chain")


class Handoff:
    """Runs blocking chain work on worker threads and brings results back to the kernel thread."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chain")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: queue.SimpleQueue[Job] = queue.SimpleQueue()

    def worker(self, job: Job) -> None:
        with contextlib.suppress(RuntimeError):  # no loop: a terminal session
            self._loop = asyncio.get_running_loop()
        self._pool.submit(_logged(job))

    def hand_back(self, job: Job) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(job)
        else:
            self._pending.put(job)

    def on_bar(self, _bar: object) -> None:
        self.drain()

    def drain(self) -> None:
        """Run what came back, on the kernel's thread (called on every replayed bar)."""
        while True:
            try:
                job = self._pending.get_nowait()
            except queue.Empty:
                return
            job()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.drain()


def _logged(job: Job) -> Job:
    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("chain job failed")

    return run
