"""Hand out nonces locally so many sends from one account can be in flight at once.

Asking the node for the pending count before every send races: two threads read the same count
and one transaction replaces the other. The manager reads the count once per (chain, address) and
then counts up under a lock. A send that never reached the node leaves a hole every later nonce
waits behind, so the caller gives its nonce back (`release`) or asks for a `resync`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# (chain id, checksummed address) -> the node's pending transaction count
PendingCount = Callable[[int, str], int]


class NonceManager:
    """Per (chain id, address) nonce counter, safe to share between threads."""

    def __init__(self, pending_count: PendingCount) -> None:
        self._pending_count = pending_count
        self._lock = threading.Lock()
        self._next: dict[tuple[int, str], int] = {}
        self._released: dict[tuple[int, str], set[int]] = {}

    def next(self, chain_id: int, address: str) -> int:
        """The lowest unused nonce: a released one first, else one past the last handed out."""
        key = (chain_id, address)
        with self._lock:
            released = self._released.get(key)
            if released:
                nonce = min(released)
                released.remove(nonce)
                return nonce
            if key not in self._next:
                self._next[key] = self._pending_count(chain_id, address)
            nonce = self._next[key]
            self._next[key] = nonce + 1
            return nonce

    def release(self, chain_id: int, address: str, nonce: int) -> None:
        """Give back a nonce whose transaction never reached the node, to be handed out again."""
        key = (chain_id, address)
        with self._lock:
            current = self._next.get(key)
            if current is None or nonce >= current:
                return
            if nonce == current - 1:
                self._next[key] = nonce
                self._shrink(key)
            else:
                self._released.setdefault(key, set()).add(nonce)

    def _shrink(self, key: tuple[int, str]) -> None:
        released = self._released.get(key, set())
        while self._next[key] - 1 in released:
            self._next[key] -= 1
            released.discard(self._next[key])

    def resync(self, chain_id: int, address: str) -> int:
        """Forget the local count and read the node's pending count again; returns it."""
        key = (chain_id, address)
        with self._lock:
            self._released.pop(key, None)
            self._next[key] = self._pending_count(chain_id, address)
            return self._next[key]

    def peek(self, chain_id: int, address: str) -> int | None:
        """The nonce `next` would hand out after the released ones, or None before first use."""
        with self._lock:
            return self._next.get((chain_id, address))
