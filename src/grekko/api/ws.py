"""The real-time endpoint /ws: authenticate with the first frame, subscribe to topics, receive events.

Protocol (JSON text frames; every server frame has an "op"):
- client first: {"op":"auth","token":"<jwt or api key>"} within auth_timeout_s. Answer
  {"op":"auth","ok":true,"role":...,"user":...}; or an error frame and close 4401 (bad credential
  or timeout), 4400 (not JSON, or another op first). The token is in a frame, not the URL, so it
  never reaches access logs; and cookies play no part, so a foreign page cannot ride a session.
- {"op":"subscribe"|"unsubscribe","topics":[...]} -> {"op":"subscribed","topics":[every topic
  now subscribed]}; an unknown topic -> {"op":"error","code":"unknown_topic",...}, nothing changes.
  Topics: market.<symbol>, book.<symbol>, orders, positions, risk, news, agents (see ws_hub).
  Every role may subscribe to every topic: they are all read-only views.
- server: {"op":"event","topic":...,"type":"Bar","data":{...},"seq":n}, seq counting 1, 2, ... the
  event frames sent to this connection (conflated market data leaves no gap: see stats()).
- server: {"op":"ping","ts":<UTC ns>} every heartbeat_s; a client may send {"op":"ping"} and gets
  {"op":"pong","ts":...}. Clients need not answer pings: a socket that is gone is found by the
  server's protocol-level pings (uvicorn's ws_ping_interval) and by failed sends. A client the
  server cannot send anything to for two heartbeats in a row (its socket stopped reading), or whose
  queue overflows (ws_hub), is closed with 4408 "too slow". A client should reconnect when it
  misses two server pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, WebSocket

from grekko.api.principal import Authenticator, Principal
from grekko.api.problems import ApiProblem
from grekko.api.ws_hub import CLOSE_TOO_SLOW, BusFanout, HubClient, HubStats, TopicError

log = logging.getLogger("grekko.api.ws")

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL = 1011
MAX_FRAME_CHARS = 65_536
STALL_STRIKES = 2


class WebSocketHub:
    """Connections of /ws on one bus; the composition root builds one and calls shutdown() at exit.

    Must be used on the event loop thread that runs the kernel (bus handlers only enqueue).
    """

    def __init__(
        self,
        bus: Any,
        authenticator: Authenticator,
        *,
        queue_size: int = 1000,
        heartbeat_s: float = 15.0,
        auth_timeout_s: float = 5.0,
        close_timeout_s: float = 10.0,
    ) -> None:
        if heartbeat_s <= 0 or auth_timeout_s <= 0 or close_timeout_s <= 0:
            raise ValueError("heartbeat_s, auth_timeout_s and close_timeout_s must be positive")
        self.fanout = BusFanout(bus, queue_size=queue_size)
        self._authenticator = authenticator
        self.heartbeat_s = heartbeat_s
        self.auth_timeout_s = auth_timeout_s
        self.close_timeout_s = close_timeout_s

    @property
    def clients(self) -> int:
        """Gauge: connections that are authenticated and open."""
        return self.fanout.clients

    def stats(self) -> dict[str, int]:
        """Counters for /metrics: clients, connections_total, messages_delivered,
        messages_conflated, clients_dropped, auth_failures, encode_errors, bus_subscriptions."""
        counters = self.fanout.stats.as_dict()
        counters["bus_subscriptions"] = len(self.fanout.bus_patterns())
        return counters

    def disconnect_user(self, user_id: int, code: int = CLOSE_UNAUTHORIZED) -> int:
        """Close every connection of a user (logout, role change, user disabled); returns how many."""
        gone = self.fanout.clients_of(user_id)
        for client in gone:
            self.fanout.drop(client, code, "session ended")
        return len(gone)

    def shutdown(self) -> None:
        """Close every connection with 1001 and leave the bus."""
        self.fanout.close_all(CLOSE_GOING_AWAY, "server shutting down")

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        principal = await self._authenticate(websocket)
        if principal is None:
            return
        client = self.fanout.attach(principal)
        try:
            await websocket.send_text(
                json.dumps(
                    {
                        "op": "auth",
                        "ok": True,
                        "role": principal.role.value,
                        "user": principal.username,
                    }
                )
            )
            await self._run(websocket, client)
        except Exception:
            log.debug(
                "websocket session of %s ended by an error", principal.username, exc_info=True
            )
        finally:
            self.fanout.detach(client)
        if client.close_code is not None:
            await self._close(websocket, client.close_code, client.close_reason)

    # ---- authentication ------------------------------------------------------------------
    async def _authenticate(self, websocket: WebSocket) -> Principal | None:
        stats = self.fanout.stats
        try:
            message = await asyncio.wait_for(websocket.receive(), self.auth_timeout_s)
        except TimeoutError:
            stats.auth_failures += 1
            await self._refuse(
                websocket, CLOSE_UNAUTHORIZED, "auth_timeout", "No auth frame in time"
            )
            return None
        if message["type"] != "websocket.receive":
            return None
        token = _auth_token(message.get("text"))
        if isinstance(token, _Refusal):
            stats.auth_failures += 1
            await self._refuse(websocket, CLOSE_BAD_REQUEST, token.code, token.title)
            return None
        try:  # a worker thread, as REST does: the look-up (argon2 for API keys) must not stall the loop
            return await asyncio.to_thread(self._authenticator.authenticate, token)
        except ApiProblem as problem:
            stats.auth_failures += 1
            code = 4000 + problem.status if 400 <= problem.status < 500 else CLOSE_INTERNAL
            await self._refuse(websocket, code, problem.code, problem.title, problem.detail)
        except Exception:
            stats.auth_failures += 1
            log.exception("websocket authentication failed unexpectedly")
            await self._refuse(websocket, CLOSE_INTERNAL, "internal_error", "Internal server error")
        return None

    async def _refuse(
        self, websocket: WebSocket, close_code: int, code: str, title: str, detail: str = ""
    ) -> None:
        frame: dict[str, Any] = {"op": "error", "code": code, "title": title}
        if detail:
            frame["detail"] = detail
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(frame))
        await self._close(websocket, close_code, code)

    async def _close(self, websocket: WebSocket, code: int, reason: str) -> None:
        """Close, but give up when the peer's socket does not take even the close frame."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code, reason), self.close_timeout_s)

    # ---- a session -------------------------------------------------------------------------
    async def _run(self, websocket: WebSocket, client: HubClient) -> None:
        tasks = [
            asyncio.create_task(self._reader(websocket, client)),
            asyncio.create_task(self._writer(websocket, client)),
            asyncio.create_task(self._heartbeat(client)),
            asyncio.create_task(client.closing.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("websocket session task failed", exc_info=task.exception())

    async def _reader(self, websocket: WebSocket, client: HubClient) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] != "websocket.receive":
                return
            reply = self._handle(client, message.get("text"))
            if reply is not None and not client.control(reply):
                self.fanout.drop_slow(client)
                return

    def _handle(self, client: HubClient, text: str | None) -> dict[str, Any] | None:
        request = _parse(text)
        if request is None:
            return _error("bad_request", "Frames are JSON objects with an op, under 64 KiB")
        op = request.get("op")
        if op == "ping":
            return {"op": "pong", "ts": time.time_ns()}
        if op == "pong":
            return None
        if op in {"subscribe", "unsubscribe"}:
            return self._subscription(client, op, request.get("topics"))
        return _error("unknown_op", f"unknown op {str(op)[:40]!r}")

    def _subscription(self, client: HubClient, op: str, topics: object) -> dict[str, Any]:
        if not isinstance(topics, list):
            return _error("bad_request", "topics must be a list of strings")
        try:
            if op == "subscribe":
                self.fanout.subscribe(client, topics)
            else:
                self.fanout.check_topics(topics)
                self.fanout.unsubscribe(client, set(topics))
        except TopicError as exc:
            return _error("unknown_topic", str(exc), topics=exc.topics)
        return {"op": "subscribed", "topics": sorted(client.topics)}

    async def _writer(self, websocket: WebSocket, client: HubClient) -> None:
        stats = self.fanout.stats
        while True:
            entry = client.next_frame()
            if entry is None:
                client.wakeup.clear()
                await client.wakeup.wait()
                continue
            frame, is_event = entry
            client.in_flight = True
            try:
                await websocket.send_text(frame)
            except Exception:
                return  # the socket is gone: the session ends
            client.in_flight = False
            client.sends += 1
            if is_event:
                stats.messages_delivered += 1

    async def _heartbeat(self, client: HubClient) -> None:
        """Ping every heartbeat_s; drop a client that took nothing for STALL_STRIKES beats."""
        strikes = 0
        while True:
            sends = client.sends
            await asyncio.sleep(self.heartbeat_s)
            busy = client.in_flight or client.backlog > 0
            strikes = strikes + 1 if busy and client.sends == sends else 0
            if strikes >= STALL_STRIKES or not client.control({"op": "ping", "ts": time.time_ns()}):
                self.fanout.drop_slow(client)
                return


class _Refusal:
    __slots__ = ("code", "title")

    def __init__(self, code: str, title: str) -> None:
        self.code = code
        self.title = title


def _auth_token(text: str | None) -> str | _Refusal:
    request = _parse(text)
    if request is None:
        return _Refusal("bad_request", "Frames are JSON objects with an op, under 64 KiB")
    token = request.get("token")
    if request.get("op") != "auth" or not isinstance(token, str) or not 0 < len(token) <= 8192:
        return _Refusal("auth_required", 'The first frame must be {"op":"auth","token":"..."}')
    return token


def _parse(text: str | None) -> dict[str, Any] | None:
    if text is None or len(text) > MAX_FRAME_CHARS:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # "[[[[..." 64 KiB deep is not JSON we take either
        return None
    return value if isinstance(value, dict) else None


def _error(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"op": "error", "code": code, "detail": detail, **extra}


def ws_router(hub: WebSocketHub) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws")
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await hub.serve(websocket)

    return router


__all__ = ["CLOSE_TOO_SLOW", "HubStats", "WebSocketHub", "ws_router"]
