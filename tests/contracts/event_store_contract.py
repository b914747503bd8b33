"""The EventStore contract: one suite that every EventStore adapter must pass unchanged.

A test class subclasses EventStoreContract (or DurableEventStoreContract for stores that outlive
their handle) and provides the fixture `open_store`: a callable that returns a new handle on one
storage, empty at the start of each test. Handles from the same `open_store` share that storage,
which is how the race tests get two writers on one stream.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grekko.core.errors import ConcurrencyError, DataError
from grekko.domain.agents import Decision, ProposalLeg, ProposalType, TradingProposal, Vote
from grekko.domain.enums import LiquiditySide, OrderSide, OrderType, TimeInForce, TradingState
from grekko.domain.events import (
    AccountFunded,
    AgentConfigured,
    AgentStateChanged,
    CircuitBreakerTripped,
    ConfirmationRequested,
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    PositionChanged,
    ProposalConfirmed,
    ProposalDecided,
    ProposalDeclined,
    ProposalExecuted,
    ProposalOutcome,
    ProposalSubmitted,
    StoredEvent,
    TradingStateChanged,
    VoteCast,
    encode_event,
)
from grekko.ports.event_store import ANY_VERSION, EventStore, RecordedEvent, Snapshot

OpenStore = Callable[[], Any]
T0 = 1_700_000_000_000_000_000


def every_stored_event() -> list[StoredEvent]:
    """One or more of each stored type, with Decimals whose exact digits must survive the store."""
    order = {"client_order_id": "O-1"}
    return [
        OrderInitialized(
            ts_event=T0,
            strategy_id="sma_cross",
            instrument_id="BTC/USDT@paper",
            side=OrderSide.BUY,
            order_type=OrderType.STOP_LIMIT,
            quantity=Decimal("0.00012300"),
            price=Decimal("64999.99"),
            trigger_price=Decimal("65000.000000000000000000001"),
            time_in_force=TimeInForce.IOC,
            reduce_only=True,
            **order,
        ),
        OrderInitialized(
            ts_event=T0 + 1,
            client_order_id="O-2",
            strategy_id="sma_cross",
            instrument_id="ETH/USDT@paper",
            side=OrderSide.SELL,
            order_type=OrderType.MARKET,
            quantity=Decimal("1E+2"),
        ),
        OrderDenied(ts_event=T0 + 2, client_order_id="O-2", reason="over 2 % of portfolio (Gekko)"),
        OrderSubmitted(ts_event=T0 + 3, **order),
        OrderAccepted(ts_event=T0 + 4, venue_order_id="V-9", **order),
        OrderTriggered(ts_event=T0 + 5, **order),
        OrderFilled(
            ts_event=T0 + 6,
            venue_order_id="V-9",
            trade_id="T-1",
            instrument_id="BTC/USDT@paper",
            strategy_id="sma_cross",
            side=OrderSide.BUY,
            last_qty=Decimal("0.000123"),
            last_px=Decimal("64999.990"),
            fee=Decimal("-0.00000001"),
            fee_currency="USDT",
            liquidity=LiquiditySide.MAKER,
            **order,
        ),
        OrderCanceled(ts_event=T0 + 7, **order),
        OrderRejected(ts_event=T0 + 8, client_order_id="O-3", reason="insufficient funds €"),
        OrderExpired(ts_event=T0 + 9, client_order_id="O-4"),
        AccountFunded(
            ts_event=T0 + 10,
            account_id="paper",
            currency="USDT",
            amount=Decimal("-12345678901234567890.123456789012345678"),
        ),
        TradingStateChanged(ts_event=T0 + 11, state=TradingState.HALTED, reason="kill switch"),
        CircuitBreakerTripped(ts_event=T0 + 12, breaker="daily_loss", reason="-5.00 % today"),
        *agent_events(T0 + 13),
    ]


def agent_events(ts: int) -> list[StoredEvent]:
    """The agents' audit trail, with a nested proposal, exact decimals and non-ASCII reasons."""
    proposal = TradingProposal(
        proposal_id="P-1",
        proposer="gordo",
        proposal_type=ProposalType.COMPLEX,
        instrument_id="BTC/USDT@paper",
        quantity=Decimal("0.00000001"),
        rationale="pair trade — ETH rich vs BTC",
        legs=(
            ProposalLeg(
                instrument_id="BTC/USDT@paper", side=OrderSide.BUY, quantity=Decimal("1.5")
            ),
            ProposalLeg(
                instrument_id="ETH/USDT@paper",
                side=OrderSide.SELL,
                quantity=Decimal("20"),
                order_type=OrderType.LIMIT,
                price=Decimal("3000.01"),
            ),
        ),
    )
    vote = Vote(proposal_id="P-1", agent_id="gekko", approve=False, weight=3, reason="RSI 81 ≥ 70")
    return [
        ProposalSubmitted(ts_event=ts, proposal_id="P-1", proposal=proposal),
        VoteCast(ts_event=ts + 1, proposal_id="P-1", vote=vote),
        ProposalDecided(
            ts_event=ts + 2,
            proposal_id="P-1",
            decision=Decision.MODIFIED,
            yes_weight=3,
            total_weight=6,
            quantity=Decimal("0.12345678"),
            reason="cut to budget",
        ),
        ConfirmationRequested(
            ts_event=ts + 3, proposal_id="P-1", agent_id="gordo", expires_ns=ts + 9
        ),
        ProposalConfirmed(ts_event=ts + 4, proposal_id="P-1", confirmed_by="alice"),
        ProposalDeclined(
            ts_event=ts + 5, proposal_id="P-1", declined_by="expiry", reason="expired"
        ),
        ProposalExecuted(ts_event=ts + 6, proposal_id="P-1", client_order_ids=("O-1", "O-2")),
        ProposalOutcome(
            ts_event=ts + 7,
            proposal_id="P-1",
            client_order_id="O-1",
            status="filled",
            filled_qty=Decimal("1.5"),
            avg_px=Decimal("64999.99"),
        ),
        AgentConfigured(
            ts_event=ts + 8,
            agent_id="gekko",
            enabled=False,
            risk_budget_pct=Decimal("0.015"),
            instruments=("BTC/USDT@paper",),
            strategies=("trend_following",),
            params={"run": "trend_following", "trend_following.fast": "8"},
            changed_by="alice",
        ),
        AgentStateChanged(
            ts_event=ts + 9,
            agent_id="spot",
            changes={"veto": 0.25, "paused": True, "notes": "calm — no FOMO"},
            changed_by="alice",
        ),
    ]


def funded(ts: int, amount: str | Decimal = "1") -> AccountFunded:
    return AccountFunded(ts_event=ts, account_id="paper", currency="USDT", amount=Decimal(amount))


def submitted(ts: int, client_order_id: str = "O-1") -> OrderSubmitted:
    return OrderSubmitted(ts_event=ts, client_order_id=client_order_id)


def versions(records: list[RecordedEvent]) -> list[int]:
    return [record.version for record in records]


def exact(records: list[RecordedEvent]) -> list[bytes]:
    """Events as their encoded bytes: equal only if every Decimal kept its exact digits."""
    return [encode_event(record.event) for record in records]


def last_position(store: EventStore) -> int:
    return max((record.global_position for record in store.read_all()), default=0)


class EventStoreContract:
    """Behaviour every EventStore adapter shares; subclasses provide the `open_store` fixture."""

    @pytest.fixture
    def store(self, open_store: OpenStore) -> Iterator[Any]:
        handle = open_store()
        yield handle
        handle.close()

    def test_samples_cover_every_stored_event_type(self) -> None:
        assert {type(event) for event in every_stored_event()} == set(get_args(StoredEvent))

    def test_every_stored_event_type_round_trips_with_exact_decimals(self, store: Any) -> None:
        events = every_stored_event()
        assert store.append("mixed", events, 0) == len(events)
        records = store.read("mixed")
        assert [record.event for record in records] == events
        assert exact(records) == [encode_event(event) for event in events]
        assert records[0].event.quantity.as_tuple() == Decimal("0.00012300").as_tuple()
        assert exact(list(store.read_all())) == exact(records)

    def test_versions_count_from_one_and_append_returns_the_new_version(self, store: Any) -> None:
        assert store.stream_version("O-1") == 0
        assert store.append("O-1", [submitted(1), submitted(2)], 0) == 2
        assert store.append("O-1", [submitted(3)], 2) == 3
        assert store.append("O-1", [submitted(4)]) == 4
        records = store.read("O-1")
        assert versions(records) == [1, 2, 3, 4]
        assert [record.stream_id for record in records] == ["O-1"] * 4
        assert store.stream_version("O-1") == 4

    def test_expected_version_zero_means_the_stream_must_be_new(self, store: Any) -> None:
        store.append("O-1", [submitted(1)], 0)
        with pytest.raises(ConcurrencyError):
            store.append("O-1", [submitted(2)], 0)
        assert versions(store.read("O-1")) == [1]

    def test_stale_or_future_expected_version_is_refused_and_writes_nothing(
        self, store: Any
    ) -> None:
        store.append("O-1", [submitted(1), submitted(2)], 0)
        for wrong in (1, 3, 7):
            with pytest.raises(ConcurrencyError):
                store.append("O-1", [submitted(10), submitted(11)], wrong)
        with pytest.raises(ConcurrencyError):
            store.append("new-stream", [submitted(12)], 5)
        assert versions(store.read("O-1")) == [1, 2]
        assert store.read("new-stream") == []
        assert len(list(store.read_all())) == 2

    def test_any_version_skips_the_check(self, store: Any) -> None:
        assert store.append("acc", [funded(1)], ANY_VERSION) == 1
        assert store.append("acc", [funded(2)], ANY_VERSION) == 2

    def test_empty_append_checks_the_version_and_writes_nothing(self, store: Any) -> None:
        assert store.append("acc", [], 0) == 0
        store.append("acc", [funded(1)], 0)
        assert store.append("acc", [], 1) == 1
        with pytest.raises(ConcurrencyError):
            store.append("acc", [], 0)
        assert len(list(store.read_all())) == 1

    def test_read_all_is_global_append_order_across_streams(self, store: Any) -> None:
        store.append("O-1", [submitted(1, "O-1")], 0)
        store.append("acc", [funded(2), funded(3)], 0)
        store.append("O-2", [submitted(4, "O-2")], 0)
        store.append("O-1", [submitted(5, "O-1")], 1)
        records = list(store.read_all())
        assert [(r.stream_id, r.version, r.event.ts_event) for r in records] == [
            ("O-1", 1, 1),
            ("acc", 1, 2),
            ("acc", 2, 3),
            ("O-2", 1, 4),
            ("O-1", 2, 5),
        ]
        positions = [record.global_position for record in records]
        assert positions == sorted(set(positions))
        assert positions[0] >= 1

    def test_read_from_version_and_read_all_from_position(self, store: Any) -> None:
        store.append("O-1", [submitted(ts) for ts in range(1, 6)], 0)
        store.append("acc", [funded(6)], 0)
        assert [r.event.ts_event for r in store.read("O-1", from_version=3)] == [3, 4, 5]
        assert store.read("O-1", from_version=6) == []
        everything = list(store.read_all())
        third = everything[2].global_position
        assert list(store.read_all(from_position=third)) == everything[2:]
        assert list(store.read_all(from_position=everything[-1].global_position + 1)) == []

    def test_unknown_stream_reads_empty(self, store: Any) -> None:
        assert store.read("nobody") == []
        assert store.stream_version("nobody") == 0
        assert store.load_snapshot("nobody") is None

    def test_append_many_writes_several_streams_all_or_nothing(self, store: Any) -> None:
        assert store.append_many(
            [("O-1", [submitted(1)], 0), ("acc", [funded(2)], 0), ("O-1", [submitted(3)], 1)]
        ) == [1, 1, 2]
        assert [(r.stream_id, r.version) for r in store.read_all()] == [
            ("O-1", 1),
            ("acc", 1),
            ("O-1", 2),
        ]
        with pytest.raises(ConcurrencyError):
            store.append_many([("O-2", [submitted(4, "O-2")], 0), ("acc", [funded(5)], 0)])
        assert store.read("O-2") == []
        assert store.stream_version("acc") == 1
        with pytest.raises(ConcurrencyError):
            store.append_many(
                [("O-3", [submitted(6, "O-3")], 0), ("O-3", [submitted(7, "O-3")], 0)]
            )
        assert store.read("O-3") == []

    def test_position_changed_is_never_stored(self, store: Any) -> None:
        derived = PositionChanged(
            ts_event=1,
            instrument_id="BTC/USDT@paper",
            quantity=Decimal(1),
            avg_px=Decimal(2),
            realized_pnl=Decimal(0),
        )
        with pytest.raises(DataError, match="PositionChanged"):
            store.append("pos", [funded(1), derived], 0)
        with pytest.raises(DataError):
            store.append_many([("acc", [funded(1)], 0), ("pos", [derived], 0)])
        assert list(store.read_all()) == []

    def test_bad_arguments_are_data_errors(self, store: Any) -> None:
        with pytest.raises(DataError):
            store.append("", [funded(1)])
        with pytest.raises(DataError):
            store.append("x" * 201, [funded(1)])
        with pytest.raises(DataError):
            store.append("acc", [funded(1)], -2)
        with pytest.raises(DataError):
            store.read("acc", from_version=0)
        with pytest.raises(DataError):
            store.read_all(from_position=0)
        with pytest.raises(DataError):
            store.save_snapshot(Snapshot(stream_id="acc", version=-1, state=b""))

    def test_snapshots_are_upserted_per_stream(self, store: Any) -> None:
        store.save_snapshot(Snapshot(stream_id="acc", version=3, state=b"\x00first"))
        store.save_snapshot(Snapshot(stream_id="O-1", version=1, state=b"order"))
        store.save_snapshot(Snapshot(stream_id="acc", version=9, state=b"\xffsecond\x00"))
        assert store.load_snapshot("acc") == Snapshot(
            stream_id="acc", version=9, state=b"\xffsecond\x00"
        )
        assert store.load_snapshot("O-1") == Snapshot(stream_id="O-1", version=1, state=b"order")

    def test_two_writers_racing_on_one_stream_exactly_one_wins(self, open_store: OpenStore) -> None:
        first, second = open_store(), open_store()
        for round_number in range(8):
            stream = f"race-{round_number}"
            first.append(stream, [submitted(0)], 0)
            barrier = threading.Barrier(2)

            def write(
                handle: Any, ts: int, stream: str = stream, barrier: threading.Barrier = barrier
            ) -> str:
                barrier.wait()
                try:
                    handle.append(stream, [submitted(ts)], 1)
                except ConcurrencyError:
                    return "conflict"
                return "won"

            with ThreadPoolExecutor(max_workers=2) as pool:
                outcomes = sorted(pool.map(write, (first, second), (1, 2)))
            assert outcomes == ["conflict", "won"]
            assert versions(second.read(stream)) == [1, 2]
        first.close()
        second.close()

    def test_concurrent_any_version_appends_all_land_without_gaps(
        self, open_store: OpenStore
    ) -> None:
        handles = [open_store(), open_store()]

        def write_pairs(writer: int) -> None:
            for n in range(20):
                ts = writer * 1000 + n * 2
                handles[writer].append("shared", [funded(ts), funded(ts + 1)], ANY_VERSION)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(write_pairs, (0, 1)))
        records = handles[0].read("shared")
        assert versions(records) == list(range(1, 81))
        stamps = [record.event.ts_event for record in records]
        assert all(stamps[i] + 1 == stamps[i + 1] for i in range(0, 80, 2))
        for handle in handles:
            handle.close()

    @settings(
        max_examples=25,
        deadline=None,
        # The store is shared across examples on purpose (each example uses fresh streams and
        # reads from its own start position), and each subclass runs this test on its own store.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        operations=st.lists(
            st.tuples(
                st.sampled_from(["order-a", "order-b", "account", "risk"]),
                st.integers(min_value=0, max_value=4),
                st.sampled_from(["exact", "any", "stale"]),
                st.decimals(allow_nan=False, allow_infinity=False),
            ),
            max_size=12,
        )
    )
    def test_random_appends_read_back_in_order(
        self, store: Any, operations: list[tuple[str, int, str, Decimal]]
    ) -> None:
        prefix = uuid.uuid4().hex
        start = last_position(store) + 1
        expected: list[tuple[str, bytes]] = []
        stream_lengths: dict[str, int] = {}
        for ts, (name, count, mode, amount) in enumerate(operations):
            stream = f"{prefix}:{name}"
            current = stream_lengths.get(stream, 0)
            events = [funded(ts * 10 + i, amount) for i in range(count)]
            if mode == "stale":
                with pytest.raises(ConcurrencyError):
                    store.append(stream, events, current + 1)
                continue
            expected_version = current if mode == "exact" else ANY_VERSION
            assert store.append(stream, events, expected_version) == current + count
            stream_lengths[stream] = current + count
            expected.extend((stream, encode_event(event)) for event in events)
        records = list(store.read_all(from_position=start))
        assert [(r.stream_id, encode_event(r.event)) for r in records] == expected
        for stream, length in stream_lengths.items():
            assert versions(store.read(stream)) == list(range(1, length + 1))


class DurableEventStoreContract(EventStoreContract):
    """Stores whose data outlives a handle: a new handle after close sees everything."""

    def test_a_reopened_store_sees_everything(self, open_store: OpenStore) -> None:
        with open_store() as writer:
            writer.append("mixed", every_stored_event(), 0)
            writer.append("acc", [funded(1, "0.10")], 0)
            writer.save_snapshot(Snapshot(stream_id="acc", version=1, state=b"state"))
            written = list(writer.read_all())
        with open_store() as reader:
            assert list(reader.read_all()) == written
            assert exact(list(reader.read_all())) == exact(written)
            assert reader.stream_version("mixed") == len(every_stored_event())
            assert reader.load_snapshot("acc") == Snapshot(
                stream_id="acc", version=1, state=b"state"
            )
            assert reader.append("acc", [funded(2)], 1) == 2
