"""Garbage from a client never crashes the hub: every frame gets a reply or is ignored, state stays sane."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.api.principal import Principal, Role
from grekko.api.problems import ApiProblem
from grekko.api.ws import WebSocketHub
from grekko.api.ws_hub import FAMILY_PATTERNS, TopicError, parse_topic
from grekko.engines.bus import MessageBus


class NoAuth:
    def authenticate(self, credential: str) -> Principal:
        raise ApiProblem(401, "unauthorized", "Authentication required")


VIEWER = Principal(user_id=1, username="vera", role=Role.VIEWER, via="api_key")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
topics = st.sampled_from(["orders", "news", "market.BTC/USDT", "book.ETH/USDT", "risk"]) | st.text(
    max_size=40
)
requests = st.fixed_dictionaries(
    {"op": st.sampled_from(["subscribe", "unsubscribe", "ping", "pong", "auth", "x"])},
    optional={"topics": st.lists(topics, max_size=6) | json_values},
)
frames = (
    st.text(max_size=200)
    | json_values.map(json.dumps)
    | requests.map(json.dumps)
    | st.none()  # a binary frame has no text
)


@given(st.one_of(st.text(max_size=80), json_values))
def test_parse_topic_knows_a_topic_or_raises_topic_error(value: Any) -> None:
    rejected: list[str] = []
    try:
        family = parse_topic(value)
    except TopicError as exc:
        rejected = exc.topics
        family = ""
    assert (family in FAMILY_PATTERNS) != bool(rejected)


@settings(max_examples=300)
@given(st.lists(frames, max_size=12))
def test_any_sequence_of_frames_gets_replies_and_leaves_a_consistent_hub(texts: list[Any]) -> None:
    bus = MessageBus()
    hub = WebSocketHub(bus, NoAuth())
    client = hub.fanout.attach(VIEWER)
    for text in texts:
        reply = hub._handle(client, text)
        if reply is not None:
            assert reply["op"] in {"error", "pong", "subscribed"}
            json.dumps(reply)  # always serialisable
            if reply["op"] == "subscribed":
                assert reply["topics"] == sorted(client.topics)
    for topic in client.topics:
        parse_topic(topic)
    needed = {p for t in client.topics for p in FAMILY_PATTERNS[parse_topic(t)]}
    assert set(hub.fanout.bus_patterns()) == needed
    hub.fanout.detach(client)
    assert hub.fanout.bus_patterns() == []
    assert bus.subscriptions("data.bars.BTC/USDT@x") == ()


def test_a_frame_nested_too_deep_for_the_json_parser_is_a_bad_request() -> None:
    hub = WebSocketHub(MessageBus(), NoAuth())
    client = hub.fanout.attach(VIEWER)
    reply = hub._handle(client, "[" * 60_000)
    assert reply is not None
    assert reply["code"] == "bad_request"
