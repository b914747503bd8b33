"""A local WalletConnect relay for the tests: the IRN JSON-RPC over a real WebSocket server.

It does what the hosted relay does for two peers: irn_subscribe answers a subscription id,
irn_publish keeps the envelope for its ttl and delivers it (irn_subscription) to every other
subscriber of the topic, a later subscriber gets what was kept, irn_unsubscribe stops delivery,
and malformed calls get JSON-RPC errors. It never decrypts: it sees what the real relay sees.
Everything it receives is recorded, so tests can check what a client sent and acknowledged.
"""

from __future__ import annotations

import base64
import hashlib
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
    _client_ids: dict[ServerConnection, str | None] = field(default_factory=dict)
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
        query = dict(parse_qsl(urlsplit(connection.request.path).query))
        self.queries.append(query)
        self._client_ids[connection] = _client_id(query.get("auth"))
        try:
            async for frame in connection:
                await self._handle(connection, json.loads(frame))
        except ConnectionClosed:
            pass
        finally:
            for subscribers in self._subscribers.values():
                subscribers.pop(connection, None)
            self._client_ids.pop(connection, None)

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
            "irn_batchSubscribe": self._batch_subscribe,
            "irn_batchUnsubscribe": self._batch_unsubscribe,
            "irn_batchFetchMessages": self._batch_fetch,
            "wc_proposeSession": self._propose_session,
            "wc_approveSession": self._approve_session,
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
        subscription_id = self._subscription_id(connection, topic)
        self._subscribers[topic][connection] = subscription_id
        await _answer(connection, rpc_id, result=subscription_id)
        now = time.monotonic()
        for kept in [k for k in self._kept if k.topic == topic and k.expires_at > now]:
            await self._send(connection, subscription_id, kept)

    async def _batch_subscribe(
        self, connection: ServerConnection, rpc_id: int, params: Any
    ) -> None:
        """The SDK subscribes to several topics at once; answers their ids in order, then sends
        what each topic kept, as irn_subscribe does."""
        topics = params.get("topics") if isinstance(params, dict) else None
        if not isinstance(topics, list) or not all(
            isinstance(t, str) and _TOPIC.fullmatch(t) for t in topics
        ):
            await _answer(connection, rpc_id, error=(INVALID_PARAMS, "invalid topics"))
            return
        ids = [self._subscription_id(connection, topic) for topic in topics]
        for topic, subscription_id in zip(topics, ids, strict=True):
            self._subscribers[topic][connection] = subscription_id
        await _answer(connection, rpc_id, result=ids)
        now = time.monotonic()
        for topic, subscription_id in zip(topics, ids, strict=True):
            for kept in [k for k in self._kept if k.topic == topic and k.expires_at > now]:
                await self._send(connection, subscription_id, kept)

    async def _batch_unsubscribe(
        self, connection: ServerConnection, rpc_id: int, params: Any
    ) -> None:
        subscriptions = params.get("subscriptions") if isinstance(params, dict) else None
        for entry in subscriptions if isinstance(subscriptions, list) else []:
            if isinstance(entry, dict):
                self._subscribers.get(str(entry.get("topic")), {}).pop(connection, None)
        await _answer(connection, rpc_id, result=True)

    async def _batch_fetch(self, connection: ServerConnection, rpc_id: int, params: Any) -> None:
        """What the topics kept, all in one answer (the SDK drops what it already saw)."""
        topics = params.get("topics") if isinstance(params, dict) else None
        wanted = set(topics) if isinstance(topics, list) else set()
        now = time.monotonic()
        messages = [
            _data(kept) for kept in self._kept if kept.topic in wanted and kept.expires_at > now
        ]
        await _answer(connection, rpc_id, result={"messages": messages, "hasMore": False})

    async def _propose_session(
        self, connection: ServerConnection, rpc_id: int, params: Any
    ) -> None:
        """The SDK's dApp publishes its proposal through this relay method (tag 1100)."""
        if not isinstance(params, dict):
            await _answer(connection, rpc_id, error=(INVALID_PARAMS, "params must be an object"))
            return
        await self._keep_and_deliver(
            connection, params.get("pairingTopic"), params.get("sessionProposal"), 1100
        )
        await _answer(connection, rpc_id, result=True)

    async def _approve_session(
        self, connection: ServerConnection, rpc_id: int, params: Any
    ) -> None:
        """The SDK's wallet approves in one call: the proposal's answer goes to the pairing topic
        (tag 1101), the settlement to the new session topic (tag 1102), and the wallet is
        subscribed to that topic by the relay (the SDK subscribes with skipSubscribe)."""
        session_topic = params.get("sessionTopic") if isinstance(params, dict) else None
        if not isinstance(session_topic, str) or not _TOPIC.fullmatch(session_topic):
            await _answer(connection, rpc_id, error=(INVALID_PARAMS, "invalid sessionTopic"))
            return
        self._subscribers[session_topic][connection] = self._subscription_id(
            connection, session_topic
        )
        await self._keep_and_deliver(
            connection, params.get("pairingTopic"), params.get("sessionProposalResponse"), 1101
        )
        await self._keep_and_deliver(
            connection, params.get("sessionTopic"), params.get("sessionSettlementRequest"), 1102
        )
        await _answer(connection, rpc_id, result=True)

    async def _keep_and_deliver(
        self, connection: ServerConnection, topic: Any, message: Any, tag: int
    ) -> None:
        if not isinstance(topic, str) or not isinstance(message, str):
            return
        kept = _Kept(topic, message, int(time.time() * 1000), tag, time.monotonic() + 300)
        self._kept.append(kept)
        for subscriber, subscription_id in list(self._subscribers[topic].items()):
            if subscriber is not connection:
                await self._send(subscriber, subscription_id, kept)

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

    def _subscription_id(self, connection: ServerConnection, topic: str) -> str:
        """sha256(topic + client id), as the relay makes it and the SDK computes it alone (it
        unsubscribes with that id); a client with no auth token gets a random one."""
        client_id = self._client_ids.get(connection)
        if client_id is None:
            return secrets.token_hex(32)
        return hashlib.sha256((topic + client_id).encode()).hexdigest()

    async def _send(self, connection: ServerConnection, subscription_id: str, kept: _Kept) -> None:
        data = _data(kept)
        frame = {
            "id": secrets.randbelow(2**53),
            "jsonrpc": "2.0",
            "method": "irn_subscription",
            "params": {"id": subscription_id, "data": data},
        }
        await connection.send(json.dumps(frame))


def _client_id(auth: str | None) -> str | None:
    """The did:key a client signs its auth JWT with (its `iss`); the token is not verified."""
    if not auth or auth.count(".") != 2:
        return None
    claims = auth.split(".")[1]
    try:
        issuer = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))).get("iss")
    except (ValueError, AttributeError):
        return None
    return issuer if isinstance(issuer, str) else None


def _data(kept: _Kept) -> dict[str, Any]:
    return {
        "topic": kept.topic,
        "message": kept.message,
        "publishedAt": kept.published_at,
        "tag": kept.tag,
    }


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
