"""In-process adapters that keep everything in memory, for backtests and tests where I/O slows."""

from grekko.adapters.memory.event_store import InMemoryEventStore

__all__ = ["InMemoryEventStore"]
