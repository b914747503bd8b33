"""WebSocket load for the scale-out benchmark, one generator process of several:

  python -m benchmarks.scaleout_ws URL TOKEN CLIENTS TOPIC IDLE_S DEADLINE_S

Connects CLIENTS clients to URL/ws (at most 50 handshakes at a time), each authenticated with
TOKEN and subscribed to TOPIC, prints `CONNECTED {json}` (per-client connect + auth + subscribe
times), then receives until no event frame came for IDLE_S seconds (after the first one) or
DEADLINE_S passed, and prints `RESULT {json}`.

The protocol is the one benchmarks/api_load.py speaks; this variant also times each handshake
and stops when the replay is over instead of after a fixed time. Delivery lag is the frame's
"ts" (the gateway's wall clock when its bus handed the bar to the hub) to receipt here; a sample
of (bar id, receipt time) lets the caller add the time the bar waited in Redis before that.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import aiohttp

from benchmarks.api_load import pct

HANDSHAKES_AT_ONCE = 50
LAG_SAMPLE = 20_000


class Tally:
    def __init__(self) -> None:
        self.connect_ms: list[float] = []
        self.lags_ms: list[float] = []
        self.received: list[tuple[str, int]] = []  # (bar id, receipt ns): the end-to-end lag
        self.frames = 0
        self.first_ns = 0
        self.last_ns = 0
        self.failed: list[str] = []
        self.closed_early = 0


async def _handshake(
    session: aiohttp.ClientSession, ws_url: str, token: str, topic: str, tally: Tally
) -> aiohttp.ClientWebSocketResponse:
    started = time.perf_counter()
    ws = await session.ws_connect(ws_url, heartbeat=None, max_msg_size=0)
    await ws.send_str(json.dumps({"op": "auth", "token": token}))
    answer = json.loads((await ws.receive()).data)
    if not answer.get("ok"):
        raise RuntimeError(f"auth refused: {answer}")
    await ws.send_str(json.dumps({"op": "subscribe", "topics": [topic]}))
    answer = json.loads((await ws.receive()).data)
    if answer.get("op") != "subscribed":
        raise RuntimeError(f"subscribe refused: {answer}")
    tally.connect_ms.append((time.perf_counter() - started) * 1e3)
    return ws


async def _listen(ws: aiohttp.ClientWebSocketResponse, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            if not stop.is_set():
                tally.closed_early += 1
            return
        now = time.time_ns()
        frame = json.loads(msg.data)
        if frame.get("op") != "event":
            continue
        tally.frames += 1
        tally.first_ns = tally.first_ns or now
        tally.last_ns = now
        tally.lags_ms.append((now - frame["ts"]) / 1e6)
        bar = frame["data"]
        tally.received.append((f"{bar['instrument_id']}@{bar['ts_event']}", now))


async def _watch(tally: Tally, stop: asyncio.Event, idle_s: float, deadline: float) -> None:
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if tally.last_ns and time.time_ns() - tally.last_ns > idle_s * 1e9:
            break
    stop.set()


async def run(
    url: str, token: str, clients: int, topic: str, idle_s: float, deadline_s: float
) -> dict[str, object]:
    tally = Tally()
    ws_url = url.replace("http", "ws", 1) + "/ws"
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> aiohttp.ClientWebSocketResponse | None:
            async with gate:
                try:
                    return await _handshake(session, ws_url, token, topic, tally)
                except Exception as exc:
                    tally.failed.append(f"{type(exc).__name__}: {exc}"[:200])
                    return None

        started = time.perf_counter()
        sockets = [ws for ws in await asyncio.gather(*(one() for _ in range(clients))) if ws]
        connect_s = time.perf_counter() - started
        print(
            "CONNECTED " + json.dumps({"clients": len(sockets), "seconds": connect_s}), flush=True
        )
        stop = asyncio.Event()
        listeners = [asyncio.create_task(_listen(ws, tally, stop)) for ws in sockets]
        await _watch(tally, stop, idle_s, time.monotonic() + deadline_s)
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "clients": len(sockets),
        "failed": tally.failed[:5],
        "failed_count": len(tally.failed),
        "closed_early": tally.closed_early,
        "connect_s": round(connect_s, 3),
        "connect_ms": random.sample(tally.connect_ms, min(len(tally.connect_ms), LAG_SAMPLE)),
        "connect_p50_ms": round(pct(tally.connect_ms, 0.5), 2),
        "frames": tally.frames,
        "first_ns": tally.first_ns,
        "last_ns": tally.last_ns,
        "lags_ms": random.sample(tally.lags_ms, min(len(tally.lags_ms), LAG_SAMPLE)),
        "received": random.sample(tally.received, min(len(tally.received), LAG_SAMPLE)),
    }


def main() -> None:
    url, token, clients, topic, idle_s, deadline_s = sys.argv[1:7]
    result = asyncio.run(run(url, token, int(clients), topic, float(idle_s), float(deadline_s)))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
