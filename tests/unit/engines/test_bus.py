"""MessageBus: wildcard topics, priority then subscription order, isolated subscriber failures,
command endpoints with exactly one handler, request/response."""

from __future__ import annotations

import logging

import pytest

from grekko.core.errors import RoutingError
from grekko.engines.bus import MessageBus


class Recorder:
    def __init__(self, name: str, log: list[tuple[str, object]]) -> None:
        self.name = name
        self.log = log

    def __call__(self, message: object) -> None:
        self.log.append((self.name, message))


def test_exact_and_wildcard_patterns() -> None:
    bus = MessageBus()
    got: list[tuple[str, object]] = []
    bus.subscribe("data.bars.BTC/USDT@paper", Recorder("exact", got))
    bus.subscribe("data.bars.*", Recorder("bars", got))
    bus.subscribe("data.trades.*", Recorder("trades", got))
    bus.subscribe("*", Recorder("all", got))
    bus.publish("data.bars.BTC/USDT@paper", 1)
    bus.publish("data.bars.ETH/USDT@paper", 2)
    bus.publish("data.trades.ETH/USDT@paper", 3)
    bus.publish("events.order.s", 4)
    assert sorted(got, key=lambda x: (str(x[1]), x[0])) == [
        ("all", 1),
        ("bars", 1),
        ("exact", 1),
        ("all", 2),
        ("bars", 2),
        ("all", 3),
        ("trades", 3),
        ("all", 4),
    ]


def test_publish_to_a_topic_nobody_listens_to_is_fine() -> None:
    bus = MessageBus()
    bus.publish("nobody.here", object())
    assert bus.subscriptions("nobody.here") == ()


def test_priority_then_subscription_order() -> None:
    bus = MessageBus()
    got: list[tuple[str, object]] = []
    bus.subscribe("t", Recorder("low-first", got), priority=-5)
    bus.subscribe("t", Recorder("zero-a", got))
    bus.subscribe("*", Recorder("high", got), priority=200)
    bus.subscribe("t", Recorder("zero-b", got))
    bus.subscribe("t", Recorder("mid", got), priority=100)
    bus.publish("t", "m")
    assert [name for name, _ in got] == ["high", "mid", "zero-a", "zero-b", "low-first"]


def test_delivery_order_is_the_same_on_every_bus_built_the_same_way() -> None:
    orders = []
    for _ in range(3):
        bus = MessageBus()
        got: list[tuple[str, object]] = []
        for i in range(20):
            bus.subscribe("a.*" if i % 2 else "a.b", Recorder(f"h{i}", got), priority=i % 3)
        for n in range(5):
            bus.publish("a.b", n)
        orders.append(got)
    assert orders[0] == orders[1] == orders[2]
    assert len(orders[0]) == 100


def test_a_raising_subscriber_is_counted_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = MessageBus()
    got: list[tuple[str, object]] = []

    def broken(message: object) -> None:
        raise RuntimeError(f"boom on {message}")

    bus.subscribe("t", Recorder("before", got), priority=1)
    bus.subscribe("t", broken)
    bus.subscribe("t", Recorder("after", got), priority=-1)
    with caplog.at_level(logging.ERROR, logger="grekko.bus"):
        bus.publish("t", "x")
        bus.publish("t", "y")
    assert got == [("before", "x"), ("after", "x"), ("before", "y"), ("after", "y")]
    assert bus.handler_errors == 2
    assert "boom on x" in caplog.text


def test_subscribing_the_same_handler_twice_delivers_once() -> None:
    bus = MessageBus()
    got: list[tuple[str, object]] = []
    handler = Recorder("h", got)
    bus.subscribe("t", handler)
    bus.subscribe("t", handler)
    bus.publish("t", 1)
    assert got == [("h", 1)]


def test_unsubscribe_stops_delivery_even_after_the_topic_was_cached() -> None:
    bus = MessageBus()
    got: list[tuple[str, object]] = []
    keep, drop = Recorder("keep", got), Recorder("drop", got)
    bus.subscribe("t.*", keep)
    bus.subscribe("t.*", drop)
    bus.publish("t.x", 1)
    bus.unsubscribe("t.*", drop)
    bus.publish("t.x", 2)
    late = Recorder("late", got)
    bus.subscribe("t.x", late)  # a new subscription also reaches an already-cached topic
    bus.publish("t.x", 3)
    assert got == [("keep", 1), ("drop", 1), ("keep", 2), ("keep", 3), ("late", 3)]


def test_unsubscribe_of_an_unknown_pair_is_harmless() -> None:
    bus = MessageBus()
    got: list[tuple[str, object]] = []
    handler = Recorder("h", got)
    bus.subscribe("t", handler)
    bus.unsubscribe("other", handler)
    bus.publish("t", 1)
    assert got == [("h", 1)]


def test_a_command_endpoint_has_exactly_one_handler() -> None:
    bus = MessageBus()
    got: list[tuple[str, object]] = []
    bus.register("risk.execute", Recorder("first", got))
    with pytest.raises(RoutingError, match="already has a handler"):
        bus.register("risk.execute", Recorder("second", got))
    bus.send("risk.execute", "cmd")
    assert got == [("first", "cmd")]
    assert bus.has_endpoint("risk.execute")


def test_send_to_a_missing_endpoint_raises() -> None:
    bus = MessageBus()
    with pytest.raises(RoutingError, match="no handler registered for endpoint 'nowhere'"):
        bus.send("nowhere", "cmd")
    with pytest.raises(RoutingError):
        bus.request("nowhere", "q")


def test_command_handler_errors_propagate_to_the_sender() -> None:
    bus = MessageBus()

    def refuse(command: object) -> None:
        raise ValueError(f"refused {command}")

    bus.register("e", refuse)
    with pytest.raises(ValueError, match="refused cmd"):
        bus.send("e", "cmd")
    assert bus.handler_errors == 0


def test_request_returns_the_handlers_value() -> None:
    bus = MessageBus()
    bus.register("math.double", lambda n: 2 * n)
    assert bus.request("math.double", 21) == 42


def test_deregister_frees_the_endpoint() -> None:
    bus = MessageBus()
    bus.register("e", lambda _: 1)
    bus.deregister("e")
    assert not bus.has_endpoint("e")
    bus.register("e", lambda _: 2)
    assert bus.request("e", None) == 2
    bus.deregister("never-registered")
