"""A client that stops reading cannot slow the publisher or the other clients: it is conflated, then
dropped with 4408, while a fast client on the same hub receives every one of 100,000 messages.

Real sockets: the slow client is a websockets connection with a 4 KiB receive buffer that never
calls recv(), so TCP backpressure reaches the server exactly as with a stuck browser tab. Nothing
here is timed: the publisher publishes synchronously in batches and the assertions are counts.
"""

from __future__ import annotations

import asyncio
import json
import socket
from itertools import cycle, islice
from typing import Any

import pytest
from realtime_support import VIEWER_TOKEN, TokenAuthenticator, live_server, make_app
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.api.ws import WebSocketHub, ws_router
from grekko.domain.data import Bar
from grekko.engines.bus import MessageBus

TOTAL = 100_000
BATCH = 100
QUEUE = 4 * BATCH


def real_bars() -> list[Bar]:
    path = next(p for p in bundled_files() if p.name.startswith("BTCUSDT"))
    rows = iter_bar_rows(load_bars(path))
    return [Bar("BTC/USDT@binance", o, h, lo, c, v, t0, t1) for t0, t1, o, h, lo, c, v in rows]


async def subscribed(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"op": "auth", "token": VIEWER_TOKEN}))
    assert json.loads(await ws.recv())["ok"] is True
    await ws.send(json.dumps({"op": "subscribe", "topics": ["market.BTC/USDT"]}))
    while json.loads(await ws.recv())["op"] != "subscribed":
        pass


async def small_window_socket(url: str) -> socket.socket:
    host, port = url.removeprefix("ws://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    return sock


class FastReader:
    """Reads every frame as it comes; `wait_for(n)` returns once n events arrived."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.progress = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["op"] == "event":
                self.events.append(frame)
                self.progress.set()

    async def wait_for(self, count: int) -> None:
        while len(self.events) < count:
            self.progress.clear()
            await self.progress.wait()


@pytest.mark.asyncio
async def test_a_slow_client_is_conflated_then_dropped_and_a_fast_one_gets_everything() -> None:
    bus = MessageBus()
    hub = WebSocketHub(
        bus, TokenAuthenticator(), queue_size=QUEUE, heartbeat_s=0.05, close_timeout_s=120
    )
    bars = list(islice(cycle(real_bars()), TOTAL))
    async with live_server(make_app(ws_router(hub))) as base:
        sock = await small_window_socket(base)
        async with (
            connect(f"{base}/ws", sock=sock, max_queue=1, compression=None) as slow,
            connect(f"{base}/ws", compression=None) as fast,
        ):
            await subscribed(slow)
            await subscribed(fast)
            reader = FastReader(fast)
            for start in range(0, TOTAL, BATCH):
                for bar in bars[start : start + BATCH]:
                    bus.publish("data.bars.BTC/USDT@binance", bar)  # returns: never blocks
                await reader.wait_for(start + BATCH)
            await dropped(hub)
            stats = hub.stats()
            slow_frames, close_code = await read_to_the_end(slow)
            await fast.close()
            await reader.task
    assert bus.handler_errors == 0
    assert [f["seq"] for f in reader.events] == list(range(1, TOTAL + 1))
    assert [f["data"]["ts_open"] for f in reader.events[-BATCH:]] == [
        b.ts_open for b in bars[-BATCH:]
    ]
    assert stats["clients_dropped"] == 1
    assert stats["messages_conflated"] > 0
    assert stats["clients"] == 1  # the fast one, still connected
    assert close_code == 4408
    received = [f for f in slow_frames if f["op"] == "event"]
    assert 0 < len(received) < TOTAL
    assert [f["seq"] for f in received] == list(range(1, len(received) + 1))
    assert is_subsequence([(f["data"]["ts_open"], f["data"]["close"]) for f in received], bars)
    assert stats["messages_delivered"] == TOTAL + len(received)


async def dropped(hub: WebSocketHub) -> None:
    """Wait (bounded) for the stall detector: two heartbeats without progress on the slow socket."""
    for _ in range(3000):
        if hub.stats()["clients_dropped"]:
            return
        await asyncio.sleep(0.01)


def is_subsequence(got: list[tuple[int, float]], sent: list[Bar]) -> bool:
    """Every received bar was published, in publishing order (conflation only leaves some out)."""
    position = 0
    for key in got:
        while position < len(sent) and (sent[position].ts_open, sent[position].close) != key:
            position += 1
        if position == len(sent):
            return False
        position += 1
    return True


async def read_to_the_end(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    frames: list[dict[str, Any]] = []
    while True:
        try:
            raw = await ws.recv()
        except ConnectionClosed:
            break
        frames.append(json.loads(raw))
    close = ws.close_code
    return frames, close
