"""A local WalletConnect relay for the tests: the IRN JSON-RPC over a real WebSocket server.

It does what the hosted relay does for two peers: irn_subscribe answers a subscription id,
irn_publish keeps the envelope for its ttl and delivers it (irn_subscription) to every other
subscriber of the topic, a later subscriber gets what was kept, irn_unsubscribe stops delivery,
and malformed calls get JSON-RPC errors. It never decrypts: it sees what the real relay sees.
Everything it receives is recorded, so tests can check what a client sent and acknowledged.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

_TOPIC = re.compile(r"[0-9a-f]{64}")
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601


@dataclass
class _Kept:
    topic: str
    message: str
    published_at: int
    tag: int
    expires_at: float


@dataclass
class LocalRelay:
    """Start with `await relay.start()`; `url` is then ws://127.0.0.1:<port>."""

    queries: list[dict[str, str]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    silent: set[str] = field(default_factory=set)  # methods left unanswered
    _subscribers: dict[str, dict[ServerConnection, str]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    _kept: list[_Kept] = field(default_factory=list)
    _server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the relay first"
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await serve(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def drop_connections(self) -> None:
        """Close every client's connection, as a relay restart would."""
        assert self._server is not None
        for connection in list(self._server.connections):
            await connection.close()

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    async def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        self.queries.append(dict(parse_qsl(urlsplit(connection.request.path).query)))
        try:
            async for frame in connection:
                await self._handle(connection, json.loads(frame))
        except ConnectionClosed:
            pass
        finally:
            for subscribers in self._subscribers.values():
                subscribers.pop(connection, None)

    async def _handle(self, connection: ServerConnection, payload: dict[str, Any]) -> None:
        if "method" not in payload:
            self.acks.append(payload)
            return
        method, params = payload["method"], payload.get("params", {})
        self.calls.append((method, params))
        if method in self.silent:
            return
        handler = {
            "irn_subscribe": self._subscribe,
            "irn_unsubscribe": self._unsubscribe,
            "irn_publish": self._publish,
        }.get(method)
        if handler is None:
            await _answer(connection, payload["id"], error=(METHOD_NOT_FOUND, f"{method} unknown"))
            return
        await handler(connection, payload["id"], params)

    async def _subscribe(self, connection: ServerConnection, rpc_id: int, params: Any) -> None:
        topic = params.get("topic") if isinstance(params, dict) else None
        if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
            await _answer(connection, rpc_id, error=(INVALID_PARAMS, "invalid topic"))
            return
        subscription_id = secrets.token_hex(32)
        self._subscribers[topic][connection] = subscription_id
        await _answer(connection, rpc_id, result=subscription_id)
        now = time.monotonic()
        for kept in [k for k in self._kept if k.topic == topic and k.expires_at > now]:
            await self._send(connection, subscription_id, kept)

    async def _unsubscribe(self, connection: ServerConnection, rpc_id: int, params: Any) -> None:
        topic = params.get("topic") if isinstance(params, dict) else None
        if self._subscribers.get(str(topic), {}).get(connection) != params.get("id"):
            await _answer(connection, rpc_id, error=(INVALID_PARAMS, "no such subscription"))
            return
        del self._subscribers[str(topic)][connection]
        await _answer(connection, rpc_id, result=True)

    async def _publish(self, connection: ServerConnection, rpc_id: int, params: Any) -> None:
        problem = _publish_problem(params)
        if problem:
            await _answer(connection, rpc_id, error=(INVALID_PARAMS, problem))
            return
        kept = _Kept(
            params["topic"],
            params["message"],
            int(time.time() * 1000),
            params["tag"],
            time.monotonic() + params["ttl"],
        )
        self._kept.append(kept)
        await _answer(connection, rpc_id, result=True)
        for subscriber, subscription_id in list(self._subscribers[kept.topic].items()):
            if subscriber is not connection:
                await self._send(subscriber, subscription_id, kept)

    async def _send(self, connection: ServerConnection, subscription_id: str, kept: _Kept) -> None:
        data = {
            "topic": kept.topic,
            "message": kept.message,
            "publishedAt": kept.published_at,
            "tag": kept.tag,
        }
        frame = {
            "id": secrets.randbelow(2**53),
            "jsonrpc": "2.0",
            "method": "irn_subscription",
            "params": {"id": subscription_id, "data": data},
        }
        await connection.send(json.dumps(frame))


def _publish_problem(params: Any) -> str | None:
    if not isinstance(params, dict):
        return "params must be an object"
    if not isinstance(params.get("topic"), str) or not _TOPIC.fullmatch(params["topic"]):
        return "invalid topic"
    if not isinstance(params.get("message"), str) or not params["message"]:
        return "invalid message"
    if not isinstance(params.get("ttl"), int) or params["ttl"] <= 0:
        return "invalid ttl"
    if not isinstance(params.get("tag"), int):
        return "invalid tag"
    return None


async def _answer(
    connection: ServerConnection,
    rpc_id: int,
    *,
    result: Any = None,
    error: tuple[int, str] | None = None,
) -> None:
    frame: dict[str, Any] = {"id": rpc_id, "jsonrpc": "2.0"}
    if error is None:
        frame["result"] = result
    else:
        frame["error"] = {"code": error[0], "message": error[1]}
    await connection.send(json.dumps(frame))
