"""A local Coinbase Advanced Trade that answers with recorded payloads (HTTP + WebSocket on 127.0.0.1).

ccxt is pointed at it through `open_exchange(..., api_urls={"rest": server.rest_url},
ws_url=server.ws_url)` and talks to it exactly as to api.coinbase.com: same paths, same query
parameters, same JSON. Every answer is a file from tests/fixtures/coinbase/ (see its README), or
a slice of one: candles are filtered by the request's start/end window and granularity, ticker
trades and book levels are cut to the request's limit. Nothing is made up; a request the
recordings cannot answer gets a 404/400, so a test that strays off the recorded data fails loudly.

On a WebSocket subscribe it answers with the recorded subscriptions message, then the recorded
messages of that channel in order (level2: snapshot, then update). With hold_ws_updates=True
only the first one is sent and the rest wait for `release_ws_updates()`, so a test knows which
state a client has seen. Tests can queue faults (HTTP status and body) for the next matching
requests and drop every open WebSocket, to exercise backoff and reconnects. Every HTTP request
and WebSocket message received is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "coinbase"
API = "/api/v3/brokerage/market"
WS_PATH = "/ws"

GRANULARITY_S = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}
WS_CHANNEL_FILES = {
    "market_trades": ("ws_market_trades.json",),
    "level2": ("ws_l2_data_snapshot.json", "ws_l2_data_update.json"),
    "candles": ("ws_candles.json",),
    "ticker": ("ws_ticker.json",),
    "heartbeats": ("ws_heartbeats.json",),
}


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass(frozen=True)
class Fault:
    """One canned bad answer: an HTTP status and a raw body (which need not be JSON)."""

    status: int
    body: str = ""


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]


@dataclass
class RecordedExchange:
    """The server; use as `async with RecordedExchange() as server:`."""

    fixtures: Path = FIXTURES
    requests: list[SeenRequest] = field(default_factory=list)
    ws_received: list[dict[str, Any]] = field(default_factory=list)
    ws_connections: int = 0
    hold_ws_updates: bool = False
    _open_ws: set[web.WebSocketResponse] = field(default_factory=set)
    _held: list[tuple[web.WebSocketResponse, str]] = field(default_factory=list)
    _faults: list[tuple[str, deque[Fault]]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _port: int = 0

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}{WS_PATH}"

    @property
    def product_id(self) -> str:
        """The one product whose ticker, book and candles were recorded."""
        return str(self._file("http_product.json")["product_id"])

    def fail_next(self, path_fragment: str, *faults: Fault) -> None:
        """The next requests whose path contains path_fragment get these answers, in order."""
        self._faults.append((path_fragment, deque(faults)))

    def seen(self, path_fragment: str) -> list[SeenRequest]:
        return [r for r in self.requests if path_fragment in r.path]

    async def wait_for_ws_subscribes(self, count: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while sum(m.get("type") == "subscribe" for m in self.ws_received) < count:
                await asyncio.sleep(0.01)

    async def release_ws_updates(self) -> None:
        held, self._held = self._held, []
        for ws, text in held:
            if not ws.closed:
                await ws.send_str(text)

    async def drop_ws(self) -> None:
        """Closes every open WebSocket from the server side, as a venue restart would."""
        for ws in list(self._open_ws):
            await ws.close()

    async def __aenter__(self) -> RecordedExchange:
        app = web.Application(middlewares=[self._record_and_fault])
        app.router.add_get(f"{API}/products", self._products)
        app.router.add_get(f"{API}/products/{{product_id}}", self._product)
        app.router.add_get(f"{API}/products/{{product_id}}/candles", self._candles)
        app.router.add_get(f"{API}/products/{{product_id}}/ticker", self._ticker)
        app.router.add_get(f"{API}/product_book", self._product_book)
        app.router.add_get(WS_PATH, self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _file(self, name: str) -> Any:
        return json.loads((self.fixtures / name).read_text())

    @web.middleware
    async def _record_and_fault(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(SeenRequest(request.method, request.path, dict(request.query)))
        for fragment, queue in self._faults:
            if fragment in request.path and queue:
                fault = queue.popleft()
                return web.Response(
                    status=fault.status, text=fault.body, content_type="application/json"
                )
        response: web.StreamResponse = await handler(request)
        return response

    def _check_product(self, product_id: str | None) -> None:
        if product_id != self.product_id:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "NOT_FOUND", "message": f"no recording of {product_id}"}),
                content_type="application/json",
            )

    async def _products(self, request: web.Request) -> web.Response:
        if request.query.get("product_type") == "FUTURE":
            return web.json_response(self._file("http_products_future.json"))
        return web.json_response(self._file("http_products.json"))

    async def _product(self, request: web.Request) -> web.Response:
        self._check_product(request.match_info["product_id"])
        return web.json_response(self._file("http_product.json"))

    async def _candles(self, request: web.Request) -> web.Response:
        """Recorded rows inside [start, end) at the recorded granularity, newest first."""
        self._check_product(request.match_info["product_id"])
        rows = self._file("http_candles.json")["candles"]
        starts = sorted(int(r["start"]) for r in rows)
        recorded_s = min(b - a for a, b in itertools.pairwise(starts))
        granularity = request.query.get("granularity", "")
        if GRANULARITY_S.get(granularity) != recorded_s:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "INVALID_ARGUMENT", "message": "unrecorded granularity"}),
                content_type="application/json",
            )
        start = int(request.query.get("start", "0"))
        end = int(request.query.get("end", str(2**62)))
        picked = [r for r in rows if start <= int(r["start"]) < end]
        picked.sort(key=lambda r: int(r["start"]), reverse=True)
        return web.json_response({"candles": picked})

    async def _ticker(self, request: web.Request) -> web.Response:
        self._check_product(request.match_info["product_id"])
        payload = self._file("http_ticker.json")
        limit = request.query.get("limit")
        if limit is not None:
            payload["trades"] = payload["trades"][: int(limit)]
        return web.json_response(payload)

    async def _product_book(self, request: web.Request) -> web.Response:
        self._check_product(request.query.get("product_id"))
        payload = self._file("http_product_book.json")
        limit = request.query.get("limit")
        if limit is not None:
            for side in ("bids", "asks"):
                payload["pricebook"][side] = payload["pricebook"][side][: int(limit)]
        return web.json_response(payload)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        self.requests.append(SeenRequest(request.method, request.path, dict(request.query)))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws_connections += 1
        self._open_ws.add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_ws_message(ws, json.loads(msg.data))
        finally:
            self._open_ws.discard(ws)
        return ws

    async def _on_ws_message(self, ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        self.ws_received.append(message)
        if message.get("type") != "subscribe":
            return
        await ws.send_str((self.fixtures / "ws_subscriptions.json").read_text())
        if self.product_id not in message.get("product_ids", []):
            return
        names = WS_CHANNEL_FILES.get(message.get("channel", ""), ())
        for i, name in enumerate(names):
            text = (self.fixtures / name).read_text()
            if i > 0 and self.hold_ws_updates:
                self._held.append((ws, text))
            else:
                await ws.send_str(text)


@asynccontextmanager
async def recorded_coinbase(
    *, hold_ws_updates: bool = False, **config: Any
) -> AsyncIterator[tuple[RecordedExchange, Any]]:
    """The recorded server and a ccxt coinbase pointed at it.

    Local plain HTTP: no rate limiter, and no wait on close for TLS connections to drain.
    """
    from grekko.adapters.ccxt import open_exchange

    async with RecordedExchange(hold_ws_updates=hold_ws_updates) as server:
        exchange = open_exchange(
            "coinbase",
            api_urls={"rest": server.rest_url},
            ws_url=server.ws_url,
            config={"enableRateLimit": False, "timeout_on_exit": 0, **config},
        )
        async with exchange:
            yield server, exchange
