"""A minimal client for the WalletConnect relay (IRN): subscribe to topics, publish sealed envelopes,
receive what the peer publishes.

The relay sees only topics and sealed envelopes. Its protocol is JSON-RPC over one WebSocket:
irn_subscribe, irn_unsubscribe and irn_publish from the client; irn_subscription from the relay,
which the client acknowledges with `true` (an unacknowledged message is delivered again). The
relay URL and project id are configuration; the hosted relay also wants `auth`, a JWT signed with
a did:key Ed25519 key (@walletconnect/relay-auth), which is passed in ready-made. Reconnecting
and resubscribing belong to the session layer above, which knows its topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from grekko.adapters.wallets.walletconnect.messages import JSONRPC, payload_id

log = logging.getLogger("grekko.wallets.walletconnect.relay")

DEFAULT_RELAY_URL = "wss://relay.walletconnect.org"
PUBLISH = "irn_publish"
SUBSCRIBE = "irn_subscribe"
UNSUBSCRIBE = "irn_unsubscribe"
SUBSCRIPTION = "irn_subscription"
_MAX_FRAME = 4 * 1024 * 1024


class RelayError(Exception):
    """The relay refused a call, did not answer in time, or the connection is gone."""


@dataclass(frozen=True)
class RelayMessage:
    """One envelope the relay delivered on a subscribed topic."""

    topic: str
    message: str
    published_at: int
    subscription_id: str
    tag: int | None = None


def relay_url(base_url: str, project_id: str | None = None, auth: str | None = None) -> str:
    """The WebSocket URL with the query the relay reads (as the SDK's formatRelayRpcUrl)."""
    query = {key: value for key, value in (("auth", auth), ("projectId", project_id)) if value}
    if not query:
        return base_url
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}{urlencode(query)}"


class RelayClient:
    """One WebSocket to the relay; calls wait for their answer, deliveries queue for `next_message`."""

    def __init__(
        self,
        url: str = DEFAULT_RELAY_URL,
        project_id: str | None = None,
        *,
        auth: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._url = relay_url(url, project_id, auth)
        self._timeout = timeout
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._inbox: asyncio.Queue[RelayMessage | None] = asyncio.Queue()
        self._subscriptions: dict[str, str] = {}
        self._closed: str | None = None

    def __repr__(self) -> str:
        """The URL may carry the auth token: only the host part is shown."""
        return f"RelayClient({self._url.split('?', 1)[0]!r})"

    async def __aenter__(self) -> RelayClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def subscriptions(self) -> dict[str, str]:
        """topic -> the relay's subscription id, for the topics subscribed now."""
        return dict(self._subscriptions)

    async def connect(self) -> None:
        if self._ws is not None:
            raise RelayError("already connected")
        try:
            self._ws = await asyncio.wait_for(
                connect(self._url, max_size=_MAX_FRAME), self._timeout
            )
        except (OSError, TimeoutError) as exc:
            raise RelayError(f"cannot reach the relay at {self!r}: {exc}") from exc
        if self._closed is not None:  # a reconnect: keep what was delivered, drop the end mark
            kept = [m for m in _drain(self._inbox) if m is not None]
            self._inbox = asyncio.Queue()
            for message in kept:
                self._inbox.put_nowait(message)
        self._closed = None
        self._reader = asyncio.create_task(self._read(self._ws), name="walletconnect-relay")

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if ws is not None:
            await ws.close()
        self._shut("the relay client was closed")

    async def subscribe(self, topic: str) -> str:
        subscription_id = await self._call(SUBSCRIBE, {"topic": topic})
        if not isinstance(subscription_id, str) or not subscription_id:
            raise RelayError(f"the relay answered {SUBSCRIBE} with {subscription_id!r}")
        self._subscriptions[topic] = subscription_id
        return subscription_id

    async def unsubscribe(self, topic: str) -> None:
        subscription_id = self._subscriptions.pop(topic, None)
        if subscription_id is None:
            raise RelayError(f"not subscribed to {topic}")
        await self._call(UNSUBSCRIBE, {"topic": topic, "id": subscription_id})

    async def publish(
        self, topic: str, message: str, *, ttl: int, tag: int, prompt: bool = False
    ) -> None:
        params = {"topic": topic, "message": message, "ttl": ttl, "tag": tag, "prompt": prompt}
        answer = await self._call(PUBLISH, params)
        if answer is not True:
            raise RelayError(f"the relay answered {PUBLISH} with {answer!r}")

    async def next_message(self, timeout: float | None = None) -> RelayMessage:
        """The next delivery, oldest first; raises once the connection is gone and drained."""
        try:
            delivered = await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            raise RelayError(f"no message from the relay within {timeout} s") from None
        if delivered is None:
            self._inbox.put_nowait(None)  # every later waiter learns it too
            raise RelayError(self._closed or "the relay connection is closed")
        return delivered

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if self._ws is None or self._closed is not None:
            raise RelayError(self._closed or "not connected to the relay")
        request_id = payload_id(6)  # the SDK's getBigIntRpcId for relay calls
        answer = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        frame = {"id": request_id, "jsonrpc": JSONRPC, "method": method, "params": params}
        try:
            await self._ws.send(json.dumps(frame))
            return await asyncio.wait_for(answer, self._timeout)
        except ConnectionClosed as exc:
            raise RelayError(f"the relay connection closed during {method}: {exc}") from None
        except TimeoutError:
            raise RelayError(
                f"the relay did not answer {method} within {self._timeout} s"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                await self._dispatch(ws, frame)
        except ConnectionClosed as exc:
            self._shut(f"the relay closed the connection: {exc}")
        else:
            self._shut("the relay closed the connection")

    async def _dispatch(self, ws: ClientConnection, frame: str | bytes) -> None:
        try:
            payload = json.loads(frame)
        except ValueError:
            log.warning("walletconnect relay sent a frame that is not JSON; ignored")
            return
        if not isinstance(payload, dict):
            log.warning(
                "walletconnect relay sent a JSON %s, not an object; ignored", type(payload).__name__
            )
            return
        if payload.get("method") == SUBSCRIPTION:
            await self._deliver(ws, payload)
            return
        request_id = payload.get("id")
        answer = self._pending.get(request_id) if isinstance(request_id, int) else None
        if answer is None or answer.done():
            log.warning("walletconnect relay answered an unknown request id; ignored")
        elif isinstance(payload.get("error"), dict):
            error = payload["error"]
            answer.set_exception(
                RelayError(f"relay error {error.get('code')}: {error.get('message')}")
            )
        else:
            answer.set_result(payload.get("result"))

    async def _deliver(self, ws: ClientConnection, payload: dict[str, Any]) -> None:
        message = _relay_message(payload.get("params"))
        if message is None:
            log.warning("walletconnect relay sent a malformed %s; ignored", SUBSCRIPTION)
            return
        await ws.send(json.dumps({"id": payload.get("id"), "jsonrpc": JSONRPC, "result": True}))
        self._inbox.put_nowait(message)

    def _shut(self, reason: str) -> None:
        if self._closed is not None:
            return
        self._closed = reason
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(RelayError(reason))
        self._inbox.put_nowait(None)


def _relay_message(params: object) -> RelayMessage | None:
    data = params.get("data") if isinstance(params, dict) else None
    if not isinstance(params, dict) or not isinstance(data, dict):
        return None
    topic, message, tag = data.get("topic"), data.get("message"), data.get("tag")
    published_at, subscription_id = data.get("publishedAt", 0), params.get("id")
    if not (
        isinstance(topic, str) and isinstance(message, str) and isinstance(subscription_id, str)
    ):
        return None
    if not isinstance(published_at, int) or not (tag is None or isinstance(tag, int)):
        return None
    return RelayMessage(topic, message, published_at, subscription_id, tag)


def _drain(queue: asyncio.Queue[RelayMessage | None]) -> list[RelayMessage | None]:
    items: list[RelayMessage | None] = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
