"""/ws subscriptions over a real uvicorn: real bus events arrive as JSON, in order, with seq.

The bus is published on from the test coroutine, i.e. on the loop thread that runs uvicorn, as the
kernel does in `grekko up`. Market data are the bundled real Binance bars; orders, fills and
positions come from a real kernel (paper venue) through its own bus.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from itertools import islice
from typing import Any

import pytest
from realtime_support import TRADER_KEY, VIEWER_TOKEN, TokenAuthenticator, live_server, make_app
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.adapters.news.replay import read_news_file
from grekko.api.ws import WebSocketHub, ws_router
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide
from grekko.domain.news import NewsItem, check_raw, tag_assets
from grekko.engines.bus import MessageBus


def bundled_bars(prefix: str, count: int) -> list[Bar]:
    path = next(p for p in bundled_files() if p.name.startswith(prefix))
    iid = f"{prefix[:3]}/USDT@binance"
    rows = islice(iter_bar_rows(load_bars(path)), count)
    return [Bar(iid, o, h, lo, c, v, t0, t1) for t0, t1, o, h, lo, c, v in rows]


def first_news_item() -> NewsItem:
    raw = read_news_file().items[0]
    f = check_raw(raw)
    assets = tag_assets(f"{f.title} {f.summary}")
    return NewsItem(
        f.news_id, f.published_at, f.source, f.title, f.summary, f.url, assets, 0.0, "neutral"
    )


@asynccontextmanager
async def session(hub: WebSocketHub, token: str = VIEWER_TOKEN) -> AsyncIterator[ClientConnection]:
    async with live_server(make_app(ws_router(hub))) as base, connect(f"{base}/ws") as ws:
        await ws.send(json.dumps({"op": "auth", "token": token}))
        assert json.loads(await ws.recv())["ok"] is True
        yield ws


async def request(ws: ClientConnection, **frame: Any) -> dict[str, Any]:
    await ws.send(json.dumps(frame))
    return await next_frame(ws)


async def next_frame(ws: ClientConnection, skip_pings: bool = True) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if not (skip_pings and frame["op"] == "ping"):
            return frame


@pytest.mark.asyncio
async def test_subscribed_bars_arrive_in_order_with_a_sequence_number() -> None:
    bus = MessageBus()
    hub = WebSocketHub(bus, TokenAuthenticator())
    btc, eth = bundled_bars("BTC", 500), bundled_bars("ETH", 500)
    async with session(hub) as ws:
        reply = await request(ws, op="subscribe", topics=["market.BTC/USDT", "news"])
        assert reply == {"op": "subscribed", "topics": ["market.BTC/USDT", "news"]}
        for b, e in zip(btc, eth, strict=True):
            bus.publish(f"data.bars.{b.instrument_id}", b)
            bus.publish(f"data.bars.{e.instrument_id}", e)  # not subscribed
        frames = [await next_frame(ws) for _ in btc]
    assert [f["seq"] for f in frames] == list(range(1, 501))
    assert {(f["op"], f["topic"], f["type"]) for f in frames} == {
        ("event", "market.BTC/USDT", "Bar")
    }
    assert [(f["data"]["ts_open"], f["data"]["close"]) for f in frames] == [
        (b.ts_open, b.close) for b in btc
    ]
    assert frames[0]["data"]["open"] == 56150.01
    assert hub.stats()["messages_delivered"] == 500
    assert hub.stats()["messages_conflated"] == 0


@pytest.mark.asyncio
async def test_unsubscribe_stops_the_topic_and_keeps_the_others() -> None:
    bus = MessageBus()
    hub = WebSocketHub(bus, TokenAuthenticator())
    bars = bundled_bars("BTC", 20)
    news = first_news_item()
    async with session(hub) as ws:
        await request(ws, op="subscribe", topics=["market.BTC/USDT", "news"])
        bus.publish("data.bars.BTC/USDT@binance", bars[0])
        assert (await next_frame(ws))["seq"] == 1
        reply = await request(ws, op="unsubscribe", topics=["market.BTC/USDT"])
        assert reply == {"op": "subscribed", "topics": ["news"]}
        for bar in bars[1:]:
            bus.publish("data.bars.BTC/USDT@binance", bar)
        bus.publish("news", news)
        frame = await next_frame(ws)  # the next thing after the bars is the news item
    assert (frame["topic"], frame["type"], frame["seq"]) == ("news", "NewsItem", 2)
    assert frame["data"]["news_id"] == news.news_id
    assert frame["data"]["title"] == news.title
    assert hub.fanout.bus_patterns() == []  # the last client left: the hub left the bus


@pytest.mark.asyncio
async def test_kernel_orders_fills_and_positions_reach_a_client(
    make_harness: Callable[..., Any],
) -> None:
    h = make_harness(cash="100000")
    hub = WebSocketHub(h.kernel.bus, TokenAuthenticator())
    async with session(hub, TRADER_KEY) as ws:
        await request(ws, op="subscribe", topics=["orders", "positions", "risk"])
        h.then(lambda ctx, bar: ctx.submit_market(h.iid, OrderSide.BUY, Decimal("0.5")))
        h.flat_bar(56150.01)
        h.flat_bar(56234.80)  # fills at this bar's open
        h.kernel.risk.kill_switch("end of test")
        frames = [await next_frame(ws) for _ in range(7)]
    kinds = [(f["topic"], f["type"]) for f in frames]
    assert kinds == [
        ("orders", "OrderInitialized"),
        ("orders", "OrderSubmitted"),
        ("orders", "OrderAccepted"),
        ("positions", "PositionChanged"),
        ("orders", "OrderFilled"),
        ("positions", "OrderFilled"),
        ("risk", "TradingStateChanged"),
    ]
    fill = frames[4]["data"]
    assert (fill["side"], fill["last_qty"], fill["last_px"]) == ("buy", "0.5", "56234.80")
    assert frames[3]["data"]["quantity"] == "0.5"
    assert frames[6]["data"]["state"] == "halted"
    assert [f["seq"] for f in frames] == list(range(1, 8))


@pytest.mark.asyncio
async def test_a_bad_request_is_answered_and_the_connection_stays() -> None:
    hub = WebSocketHub(MessageBus(), TokenAuthenticator())
    async with session(hub) as ws:
        reply = await request(ws, op="subscribe", topics=["market.BTC/USDT", "trades", "book."])
        assert reply["op"] == "error"
        assert reply["code"] == "unknown_topic"
        assert reply["topics"] == ["trades", "book."]
        assert (await request(ws, op="subscribe", topics="orders"))["code"] == "bad_request"
        assert (await request(ws, op="shout"))["code"] == "unknown_op"
        await ws.send("not json")
        assert (await next_frame(ws))["code"] == "bad_request"
        await ws.send(b"\x00binary")
        assert (await next_frame(ws))["code"] == "bad_request"
        reply = await request(ws, op="subscribe", topics=["book.BTC/USDT", "agents"])
        assert reply == {"op": "subscribed", "topics": ["agents", "book.BTC/USDT"]}


@pytest.mark.asyncio
async def test_heartbeats_come_every_beat_and_a_client_ping_gets_a_pong() -> None:
    hub = WebSocketHub(MessageBus(), TokenAuthenticator(), heartbeat_s=0.05)
    async with session(hub) as ws:
        pings = [await next_frame(ws, skip_pings=False) for _ in range(3)]
        assert [p["op"] for p in pings] == ["ping", "ping", "ping"]
        assert pings[0]["ts"] < pings[1]["ts"] < pings[2]["ts"]
        await ws.send(json.dumps({"op": "ping"}))
        assert (await next_frame(ws))["op"] == "pong"
        await ws.send(json.dumps({"op": "pong"}))  # answering pings is allowed, never required
        for _ in range(3):
            await next_frame(ws, skip_pings=False)
        assert hub.clients == 1
    assert hub.stats()["clients_dropped"] == 0


@pytest.mark.asyncio
async def test_shutdown_closes_clients_with_1001_and_leaves_the_bus() -> None:
    bus = MessageBus()
    hub = WebSocketHub(bus, TokenAuthenticator())
    async with session(hub) as ws:
        await request(ws, op="subscribe", topics=["orders", "market.BTC/USDT"])
        assert hub.fanout.bus_patterns() != []
        hub.shutdown()
        assert hub.fanout.bus_patterns() == []
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert hub.clients == 0
