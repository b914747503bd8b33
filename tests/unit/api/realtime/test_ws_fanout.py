"""The WebSocket hub's bus side: routing, one shared bus subscription per pattern, conflation, drops.

A real MessageBus, real kernel events (the conftest harness: paper venue, risk, portfolio) and the
bundled real Binance bars; the clients are the hub's own queues, drained the way ws.py drains them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from itertools import cycle, islice
from typing import Any

import pytest

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.api.principal import Principal, Role
from grekko.api.ws_hub import CLOSE_TOO_SLOW, BusFanout, HubClient, TopicError
from grekko.domain.data import Bar, QuoteTick, TradeTick
from grekko.domain.enums import OrderSide
from grekko.domain.events import OrderAccepted
from grekko.domain.order_book import DepthSnapshot
from grekko.engines.books import BookManager, SnapshotsOnly
from grekko.engines.bus import MessageBus
from grekko.engines.wallets import WalletNotice, wallet_topic

VIEWER = Principal(user_id=7, username="vera", role=Role.VIEWER, via="jwt")


def real_bars(prefix: str, instrument_id: str) -> list[Bar]:
    path = next(p for p in bundled_files() if p.name.startswith(prefix))
    return [
        Bar(instrument_id, o, h, lo, c, v, ts_open, ts_close)
        for ts_open, ts_close, o, h, lo, c, v in islice(iter_bar_rows(load_bars(path)), 2000)
    ]


@pytest.fixture(scope="module")
def btc_bars() -> list[Bar]:
    return real_bars("BTCUSDT", "BTC/USDT@binance")


def drain(client: HubClient) -> list[dict[str, Any]]:
    frames = []
    while (entry := client.next_frame()) is not None:
        frames.append(json.loads(entry[0]))
    return frames


def events(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f["op"] == "event"]


def hub_handlers(bus: MessageBus, topic: str, fanout: BusFanout) -> int:
    mine = set(fanout._handlers.values())
    return sum(1 for handler in bus.subscriptions(topic) if handler in mine)


def test_market_topic_gets_every_kind_of_its_symbol_on_every_venue(btc_bars: list[Bar]) -> None:
    bus = MessageBus()
    fanout = BusFanout(bus)
    client = fanout.attach(VIEWER)
    fanout.subscribe(client, ["market.BTC/USDT"])
    bar = btc_bars[0]
    paper_bar = Bar("BTC/USDT@paper", *[getattr(bar, f) for f in bar.__struct_fields__[1:]])
    bus.publish("data.bars.BTC/USDT@binance", bar)
    bus.publish("data.bars.BTC/USDT@paper", paper_bar)
    bus.publish(
        "data.trades.BTC/USDT@binance",
        TradeTick(bar.instrument_id, bar.close, 0.5, OrderSide.BUY, "t-1", bar.ts_event),
    )
    bus.publish(
        "data.quotes.BTC/USDT@binance",
        QuoteTick(bar.instrument_id, bar.low, bar.high, 1.0, 2.0, bar.ts_event),
    )
    bus.publish("data.bars.ETH/USDT@binance", Bar("ETH/USDT@binance", 1, 1, 1, 1, 1, 0, 60))
    got = events(drain(client))
    assert [(f["type"], f["data"]["instrument_id"]) for f in got] == [
        ("Bar", "BTC/USDT@binance"),
        ("Bar", "BTC/USDT@paper"),
        ("TradeTick", "BTC/USDT@binance"),
        ("QuoteTick", "BTC/USDT@binance"),
    ]
    assert {f["topic"] for f in got} == {"market.BTC/USDT"}
    assert [f["seq"] for f in got] == [1, 2, 3, 4]
    assert got[0]["data"]["open"] == 56150.01
    assert got[0]["data"]["close"] == 56234.80
    assert got[2]["data"]["aggressor"] == "buy"


def test_book_topic_gets_the_book_managers_snapshots() -> None:
    bus = MessageBus()
    fanout = BusFanout(bus)
    client = fanout.attach(VIEWER)
    fanout.subscribe(client, ["book.BTC/USDT"])
    manager = BookManager(bus, SnapshotsOnly(), request_snapshot=lambda _iid: None)
    manager.on_message(
        DepthSnapshot(
            "BTC/USDT@binance", ((56150.0, 1.5), (56149.5, 0.2)), ((56150.5, 0.7),), 42, 10
        )
    )
    [frame] = events(drain(client))
    assert frame["topic"] == "book.BTC/USDT"
    assert frame["type"] == "BookSnapshot"
    assert frame["data"]["bids"][0] == [56150.0, 1.5]
    assert frame["data"]["sequence"] == 42


def test_kernel_order_position_and_risk_events_reach_their_topics(
    make_harness: Callable[..., Any],
) -> None:
    h = make_harness(cash="10000")
    fanout = BusFanout(h.kernel.bus)
    orders, positions, risk = (fanout.attach(VIEWER) for _ in range(3))
    fanout.subscribe(orders, ["orders"])
    fanout.subscribe(positions, ["positions"])
    fanout.subscribe(risk, ["risk"])
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, OrderSide.BUY, Decimal(2)))
    h.flat_bar(100)
    h.flat_bar(101)  # the market order fills at this bar's open
    h.kernel.risk.kill_switch("test halt")
    order_types = [f["type"] for f in events(drain(orders))]
    assert order_types[:2] == ["OrderInitialized", "OrderSubmitted"]
    assert "OrderFilled" in order_types
    assert order_types.index(OrderAccepted.__name__) > 1
    pos = events(drain(positions))
    assert [f["type"] for f in pos] == ["PositionChanged", "OrderFilled"]  # the kernel's order
    assert pos[0]["data"]["quantity"] == "2"  # Decimal as text
    assert pos[0]["data"]["avg_px"] == "101.00"
    assert pos[1]["data"]["last_qty"] == "2"
    assert [f["type"] for f in events(drain(risk))] == ["TradingStateChanged"]


def test_one_bus_subscription_per_pattern_whatever_the_clients(btc_bars: list[Bar]) -> None:
    bus = MessageBus()
    fanout = BusFanout(bus)
    assert fanout.bus_patterns() == []
    clients = [fanout.attach(VIEWER) for _ in range(5)]
    for client in clients:
        fanout.subscribe(client, ["market.BTC/USDT", "market.ETH/USDT", "orders", "positions"])
    assert hub_handlers(bus, "data.bars.BTC/USDT@binance", fanout) == 1
    assert hub_handlers(bus, "events.order.sma", fanout) == 1  # shared by orders and positions
    assert fanout.bus_patterns() == [
        "data.bars.*", "data.indicators.*", "data.quotes.*", "data.trades.*",
        "events.order.*", "events.position.*",
    ]  # fmt: skip
    bus.publish("data.bars.BTC/USDT@binance", btc_bars[0])
    assert all(len(events(drain(c))) == 1 for c in clients)
    fanout.unsubscribe(clients[0], {"positions"})
    assert "events.position.*" in fanout.bus_patterns()
    for client in clients:
        fanout.detach(client)
    assert fanout.bus_patterns() == []
    assert hub_handlers(bus, "data.bars.BTC/USDT@binance", fanout) == 0
    assert fanout.stats.clients == 0
    assert fanout.stats.connections_total == 5


def test_a_synchronous_burst_is_conflated_for_a_client_that_does_not_drain(
    btc_bars: list[Bar],
) -> None:
    bus = MessageBus()
    fanout = BusFanout(bus, queue_size=100)
    slow, fast = fanout.attach(VIEWER), fanout.attach(VIEWER)
    fanout.subscribe(slow, ["market.BTC/USDT"])
    fanout.subscribe(fast, ["market.BTC/USDT"])
    fast_seen = 0
    sent = list(islice(cycle(btc_bars), 100_000))
    for start in range(0, len(sent), 50):
        for bar in sent[start : start + 50]:
            bus.publish("data.bars.BTC/USDT@binance", bar)
        fast_seen += len(events(drain(fast)))
    assert fast_seen == 100_000
    assert bus.handler_errors == 0
    assert slow.backlog == 101  # the full queue and the newest bar of its one key
    # 100 queued, the 101st kept as latest, each later one replaced the one before it
    assert fanout.stats.messages_conflated == 100_000 - 101
    frames = events(drain(slow))
    assert [f["seq"] for f in frames] == list(range(1, 102))
    assert frames[-1]["data"]["ts_event"] == sent[-1].ts_event  # the newest survives
    assert fanout.stats.clients_dropped == 0


def test_events_that_cannot_be_conflated_drop_the_client_when_they_do_not_fit(
    make_harness: Callable[..., Any],
) -> None:
    h = make_harness(cash="100000")
    fanout = BusFanout(h.kernel.bus, queue_size=5)
    slow, fast = fanout.attach(VIEWER), fanout.attach(VIEWER)
    fanout.subscribe(slow, ["orders"])
    fanout.subscribe(fast, ["orders"])
    fast_types: list[str] = []
    for _ in range(3):  # each market order: initialized, submitted, accepted, filled
        h.then(lambda ctx, bar: ctx.submit_market(h.iid, OrderSide.BUY, Decimal(1)))
        h.flat_bar(100)
        fast_types += [f["type"] for f in events(drain(fast))]
    h.flat_bar(100)
    fast_types += [f["type"] for f in events(drain(fast))]
    assert fast_types.count("OrderFilled") == 3
    assert len(fast_types) == 12
    assert slow.close_code == CLOSE_TOO_SLOW
    assert slow.closing.is_set()
    assert fanout.stats.clients_dropped == 1
    assert fanout.clients == 1
    assert slow.backlog == 0  # its queue was released with its subscriptions
    assert h.kernel.bus.handler_errors == 0


def test_a_full_queue_gives_way_to_events_by_conflating_its_market_data(
    btc_bars: list[Bar], make_harness: Callable[..., Any]
) -> None:
    h = make_harness(cash="100000")
    fanout = BusFanout(h.kernel.bus, queue_size=10)
    client = fanout.attach(VIEWER)
    fanout.subscribe(client, ["market.BTC/USDT", "orders"])
    for bar in btc_bars[:9]:
        h.kernel.bus.publish("data.bars.BTC/USDT@binance", bar)
    h.then(lambda ctx, bar: ctx.submit_market(h.iid, OrderSide.BUY, Decimal(1)))
    h.flat_bar(100)  # BTC/USDT@paper: another key of market.BTC/USDT, then the order events
    frames = events(drain(client))
    assert fanout.stats.clients_dropped == 0
    assert [f["type"] for f in frames if f["topic"] == "orders"] == [
        "OrderInitialized", "OrderSubmitted", "OrderAccepted",
    ]  # fmt: skip
    bars = [f["data"] for f in frames if f["topic"] == "market.BTC/USDT"]
    assert [b["instrument_id"] for b in bars] == ["BTC/USDT@paper", "BTC/USDT@binance"]
    assert bars[1]["ts_event"] == btc_bars[8].ts_event  # the newest binance bar was kept
    assert fanout.stats.messages_conflated == 8


def test_unsubscribe_also_forgets_what_was_queued_for_the_topic(btc_bars: list[Bar]) -> None:
    bus = MessageBus()
    fanout = BusFanout(bus)
    client = fanout.attach(VIEWER)
    fanout.subscribe(client, ["market.BTC/USDT", "news"])
    for bar in btc_bars[:3]:
        bus.publish("data.bars.BTC/USDT@binance", bar)
    fanout.unsubscribe(client, {"market.BTC/USDT"})
    bus.publish("data.bars.BTC/USDT@binance", btc_bars[3])
    assert drain(client) == []
    assert client.topics == {"news"}


def test_unknown_topics_change_nothing_and_are_all_named() -> None:
    fanout = BusFanout(MessageBus())
    client = fanout.attach(VIEWER)
    with pytest.raises(TopicError) as err:
        fanout.subscribe(client, ["orders", "market.", "trades", 5, "book.BTCUSDT"])
    assert err.value.topics == ["market.", "trades", "5", "book.BTCUSDT"]
    assert client.topics == set()
    assert fanout.bus_patterns() == []


def test_agents_topic_is_open_and_odd_payloads_still_go_out_as_text() -> None:
    class Thought:
        def __str__(self) -> str:
            return "gekko thinks"

    bus = MessageBus()
    fanout = BusFanout(bus)
    client = fanout.attach(VIEWER)
    fanout.subscribe(client, ["agents"])
    bus.publish("agents.gekko", Thought())
    bus.publish("agents.spot", {"advice": Decimal("0.5")})
    frames = events(drain(client))
    assert [(f["type"], f["data"]) for f in frames] == [
        ("Thought", "gekko thinks"),
        ("dict", {"advice": "0.5"}),
    ]


def test_a_message_is_encoded_once_for_all_its_clients(btc_bars: list[Bar]) -> None:
    bus = MessageBus()
    fanout = BusFanout(bus)
    a, b = fanout.attach(VIEWER), fanout.attach(VIEWER)
    fanout.subscribe(a, ["market.BTC/USDT"])
    fanout.subscribe(b, ["market.BTC/USDT"])
    bus.publish("data.bars.BTC/USDT@binance", btc_bars[0])
    item = a._pending[0][0]
    assert b._pending[0][0] is item  # one queued object for both clients
    frame_a = a.next_frame()
    head = item._head
    frame_b = b.next_frame()
    assert head is not None
    assert item._head is head
    assert frame_a == frame_b == (head + "1}", True)


def test_wallets_topic_carries_every_wallets_events() -> None:
    bus = MessageBus()
    fanout = BusFanout(bus)
    client = fanout.attach(VIEWER)
    fanout.subscribe(client, ["wallets"])
    mine, theirs = f"metamask:{VIEWER.user_id}", f"metamask:{VIEWER.user_id + 1}"
    for provider, event, payload in (
        ("keystore", "connect", {"chainId": "0x7a69"}),
        (mine, "accountsChanged", ["0xabc"]),
        (theirs, "accountsChanged", ["0xdef"]),  # another user's wallet: not for this client
    ):
        notice = WalletNotice(ts_event=5, provider_id=provider, event=event, payload=payload)
        bus.publish(wallet_topic(provider, event), notice)
    bus.publish("metamask.transaction.confirmed", {"tx_hash": "0x01", "status": 1})

    got = events(drain(client))
    assert [(e["topic"], e["data"].get("provider_id"), e["data"].get("event")) for e in got] == [
        ("wallets", "keystore", "connect"),
        ("wallets", mine, "accountsChanged"),
        ("wallets", None, None),
    ]
    assert got[2]["data"] == {"tx_hash": "0x01", "status": 1}
    assert got[1]["data"]["payload"] == ["0xabc"]
