"""Load generators for the API benchmark, run in their own process (the second process on loopback).

  python -m benchmarks.api_load orders URL TOKEN COUNT CONCURRENCY
  python -m benchmarks.api_load ws URL TOKEN CLIENTS SECONDS SYMBOL

Each prints one `RESULT {json}` line.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import aiohttp


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def orders(url: str, token: str, count: int, concurrency: int) -> dict[str, object]:
    body = {"instrument_id": "BTC/USDT@paper", "side": "buy", "type": "market", "quantity": "0.001"}
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                async with session.post(
                    f"{url}/api/v1/orders",
                    json=body,
                    headers={**headers, "Idempotency-Key": f"b-{i}"},
                ) as answer:
                    await answer.read()
                    statuses[answer.status] = statuses.get(answer.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "orders": count,
        "concurrency": concurrency,
        "orders_per_s": round(count / elapsed),
        "p50_ms": round(pct(latencies, 0.5) * 1e3, 2),
        "p95_ms": round(pct(latencies, 0.95) * 1e3, 2),
        "p99_ms": round(pct(latencies, 0.99) * 1e3, 2),
        "statuses": statuses,
    }


async def websockets(
    url: str, token: str, clients: int, seconds: float, symbol: str
) -> dict[str, object]:
    lags: list[float] = []
    received = [0]
    connected = [0]
    listened = [0.0]  # client-seconds subscribed: the rate's denominator (clients connect in turn)
    ws_url = url.replace("http", "ws") + "/ws"
    stop = time.monotonic() + seconds
    gate = asyncio.Semaphore(50)
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            async with gate:
                ws = await session.ws_connect(ws_url, heartbeat=None, max_msg_size=0)
                await ws.send_str(json.dumps({"op": "auth", "token": token}))
                await ws.receive()
                await ws.send_str(json.dumps({"op": "subscribe", "topics": [f"market.{symbol}"]}))
                await ws.receive()
                connected[0] += 1
            since = time.monotonic()
            try:
                while time.monotonic() < stop:
                    try:
                        msg = await ws.receive(timeout=max(0.1, stop - time.monotonic()))
                    except TimeoutError:
                        break
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    frame = json.loads(msg.data)
                    if frame.get("op") == "event":
                        received[0] += 1
                        lags.append((time.time_ns() - frame["ts"]) / 1e6)
            finally:
                listened[0] += time.monotonic() - since
                await ws.close()

        await asyncio.gather(*(client() for _ in range(clients)))
    return {
        "ws_clients": connected[0],
        "ws_seconds": seconds,
        "ws_messages": received[0],
        "ws_client_seconds": round(listened[0], 1),
        "ws_messages_per_client_per_s": round(received[0] / max(1e-9, listened[0]), 2),
        "ws_p50_ms": round(pct(lags, 0.5), 2),
        "ws_p99_ms": round(pct(lags, 0.99), 2),
        "ws_max_ms": round(max(lags), 2) if lags else None,
        "ws_lags_sample": random.sample(lags, min(len(lags), 20_000)),
    }


def main() -> None:
    mode, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "orders":
        result = asyncio.run(orders(url, token, int(sys.argv[4]), int(sys.argv[5])))
    else:
        result = asyncio.run(
            websockets(url, token, int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
        )
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
