"""Messaging: direct, broadcast, by type, in priority order, published on the bus."""

from __future__ import annotations

from grekko.agents.messaging import Messenger
from grekko.core.time import TestClock
from grekko.domain.agents import AgentMessage, MessageType, Priority
from grekko.engines.bus import MessageBus


def test_direct_broadcast_and_type_subscriptions() -> None:
    bus = MessageBus()
    on_bus: list[tuple[str, AgentMessage]] = []
    bus.subscribe("agents.messages.*", lambda m: on_bus.append((m.recipient or "*", m)))
    messenger = Messenger(TestClock(1), bus.publish)
    got: dict[str, list[str]] = {"spot": [], "gordo": [], "alerts": []}
    messenger.subscribe("spot", lambda m: got["spot"].append(m.message_id))
    messenger.subscribe("gordo", lambda m: got["gordo"].append(m.message_id))
    messenger.subscribe("risk_alert", lambda m: got["alerts"].append(m.message_id))
    direct = messenger.send(MessageType.COORDINATION_REQUEST, "gekko", "gordo", {"q": 1})
    everyone = messenger.broadcast(MessageType.RISK_ALERT, "risk", {}, Priority.CRITICAL)
    assert got["gordo"] == [direct.message_id, everyone.message_id]
    assert got["spot"] == [everyone.message_id]
    assert got["alerts"] == [everyone.message_id]
    assert [r for r, _ in on_bus] == ["gordo", "*"]
    assert [m.message_id for m in messenger.messages_for("spot")] == [everyone.message_id]


def test_messages_queued_during_delivery_go_out_by_priority() -> None:
    messenger = Messenger(TestClock(1))
    order: list[str] = []

    def chatty(message: AgentMessage) -> None:
        order.append(str(message.payload["n"]))
        if message.payload["n"] == "first":
            messenger.broadcast(MessageType.MARKET_ANALYSIS, "spot", {"n": "low"}, Priority.LOW)
            messenger.broadcast(
                MessageType.RISK_ALERT, "risk", {"n": "critical"}, Priority.CRITICAL
            )
            messenger.broadcast(MessageType.EXECUTION_RESULT, "c", {"n": "normal"})

    messenger.subscribe("*", chatty)
    messenger.broadcast(MessageType.MARKET_ANALYSIS, "spot", {"n": "first"})
    assert order == ["first", "critical", "normal", "low"]


def test_a_failing_handler_does_not_stop_delivery() -> None:
    messenger = Messenger(TestClock(1))
    got: list[str] = []

    def broken(_: AgentMessage) -> None:
        raise RuntimeError("boom")

    messenger.subscribe("*", broken)
    messenger.subscribe("*", lambda m: got.append(m.message_id))
    sent = messenger.broadcast(MessageType.MARKET_ANALYSIS, "spot", {})
    assert got == [sent.message_id]
    assert messenger.failures == 1
