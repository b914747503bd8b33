"""InMemoryEventStore against the EventStore contract, plus what only the memory store promises."""

from __future__ import annotations

import pytest

from contracts.event_store_contract import EventStoreContract, OpenStore, funded, submitted
from grekko.adapters.memory import InMemoryEventStore
from grekko.ports.event_store import EventStore


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def open_store(self) -> OpenStore:
        shared = InMemoryEventStore()
        return lambda: shared


def test_it_satisfies_the_port() -> None:
    store: EventStore = InMemoryEventStore()
    assert store.stream_version("any") == 0


def test_events_are_kept_as_the_same_objects_without_encoding() -> None:
    store = InMemoryEventStore()
    event = funded(1, "0.1")
    store.append("acc", [event], 0)
    assert store.read("acc")[0].event is event
    assert next(store.read_all()).event is event


def test_read_all_yields_events_appended_while_iterating() -> None:
    store = InMemoryEventStore()
    store.append("O-1", [submitted(1)], 0)
    seen = []
    for record in store.read_all():
        seen.append(record.version)
        if record.version < 3:
            store.append("O-1", [submitted(record.version + 1)], record.version)
    assert seen == [1, 2, 3]


def test_read_returns_a_copy_callers_cannot_corrupt() -> None:
    store = InMemoryEventStore()
    store.append("O-1", [submitted(1)], 0)
    store.read("O-1").clear()
    assert len(store.read("O-1")) == 1
