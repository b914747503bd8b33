"""Fan-out of bus messages to WebSocket clients: one bus subscription per pattern, a queue per client.

Everything here runs on the event loop thread, the thread the kernel publishes from. The bus
handlers only look up the subscribed clients and append to their queues, so a publish never
awaits and never blocks, however slow a client is. Bus patterns are subscribed while at least one
client needs them and unsubscribed after, so a kernel without WebSocket clients pays nothing.

A client's queue holds at most `capacity` events. When it is full, market and book data are
conflated: only the newest message per (kind, instrument) is kept, and the older one is counted
as conflated. Order, position, risk, news and agent events are never conflated (losing one would
leave the client with a wrong picture): when one does not fit even after the queue's market data
has been conflated, the client is dropped, and the connection code closes it with 4408.
Events are JSON-encoded once per message, by the first client that sends it, never in the handler.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from grekko.api.principal import Principal
from grekko.domain.events import OrderFilled

log = logging.getLogger("grekko.api.ws")

CLOSE_TOO_SLOW = 4408
MAX_TOPICS_PER_CLIENT = 200
CONTROL_CAPACITY = 64
HUB_PRIORITY = -1000  # after every kernel subscriber: clients see what the kernel already applied

_SYMBOL = re.compile(r"[A-Za-z0-9._-]{1,32}/[A-Za-z0-9._-]{1,32}(:[A-Za-z0-9._-]{1,32})?")
_PLAIN_TOPICS = frozenset({"orders", "positions", "risk", "news", "agents", "wallets"})
_MARKET_KINDS = {
    "data.bars.*": "bars",
    "data.trades.*": "trades",
    "data.quotes.*": "quotes",
    "data.indicators.*": "indicators",
}
FAMILY_PATTERNS: dict[str, tuple[str, ...]] = {
    "market": tuple(_MARKET_KINDS),
    "book": ("data.books.*",),
    "orders": ("events.order.*",),
    "positions": ("events.position.*", "events.order.*"),  # fills come with the order events
    "risk": ("events.risk",),
    "news": ("news",),
    "agents": ("agents.*",),
    # metamask.*: account, network, confirmed tx, swaps; walletconnect.*: session, requests
    "wallets": ("wallet.*", "metamask.*", "walletconnect.*"),
}
_encoder = msgspec.json.Encoder(enc_hook=str)  # an unknown payload type still goes out, as text
_encode_str = msgspec.json.Encoder().encode

Key = tuple[str, str] | None  # (kind, instrument_id) for conflatable data, None for events


class TopicError(ValueError):
    """A topic the hub does not know; `topics` are the offending ones, as the client sent them."""

    def __init__(self, message: str, topics: list[str]) -> None:
        super().__init__(message)
        self.topics = topics


def parse_topic(topic: object) -> str:
    """The family of a client topic ("market" for "market.BTC/USDT"), or TopicError."""
    if not isinstance(topic, str):
        raise TopicError("a topic is a string", [repr(topic)[:80]])
    if topic in _PLAIN_TOPICS:
        return topic
    family, _, symbol = topic.partition(".")
    if family in {"market", "book"} and _SYMBOL.fullmatch(symbol):
        return family
    raise TopicError(f"unknown topic {topic[:80]!r}", [topic[:80]])


@dataclass
class HubStats:
    """Counters since the hub started; `clients` is the gauge of connected clients."""

    clients: int = 0
    connections_total: int = 0
    messages_delivered: int = 0
    messages_conflated: int = 0
    clients_dropped: int = 0
    auth_failures: int = 0
    encode_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


_USER_WALLETS = frozenset({"metamask", "walletconnect"})


class _Item:
    """One bus message for one client topic, shared by every client it goes to."""

    __slots__ = ("_head", "message", "topic", "ts", "type")

    def __init__(self, topic: str, message: object) -> None:
        self.topic = topic
        self.type = type(message).__name__
        self.message = message
        self.ts = time.time_ns()  # when the bus published it: clients measure delivery lag
        self._head: str | None = None

    def frame(self, seq: int) -> str:
        head = self._head
        if head is None:
            data = _encoder.encode(self.message).decode()
            topic, kind = _encode_str(self.topic).decode(), _encode_str(self.type).decode()
            head = self._head = (
                f'{{"op":"event","topic":{topic},"type":{kind},"ts":{self.ts},"data":{data},"seq":'
            )
        return f"{head}{seq}}}"


class HubClient:
    """One connected client's subscriptions and outgoing queues; filled by the hub, drained by ws.py."""

    def __init__(self, principal: Principal, capacity: int, stats: HubStats) -> None:
        self.principal = principal
        self.topics: set[str] = set()
        self.capacity = capacity
        self.seq = 0  # event frames sent to this client, the `seq` of the last one
        self.sends = 0  # frames (events and control) whose send completed
        self.in_flight = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.wakeup = asyncio.Event()
        self.closing = asyncio.Event()
        self._stats = stats
        self._pending: deque[tuple[_Item, Key]] = deque()
        self._latest: dict[tuple[str, str], _Item] = {}
        self._control: deque[str] = deque()

    @property
    def backlog(self) -> int:
        return len(self._pending) + len(self._latest) + len(self._control)

    def offer(self, item: _Item, key: Key) -> bool:
        """Queue an event; False when it cannot be kept (the client must be dropped)."""
        latest = self._latest
        if key is not None and key in latest:
            latest[key] = item  # a newer one of a conflated key stays behind the pending queue
            self._stats.messages_conflated += 1
        elif len(self._pending) < self.capacity:
            self._pending.append((item, key))
        elif key is not None:
            if len(latest) >= self.capacity:
                return False
            latest[key] = item
        elif not self._compact():
            return False
        else:
            self._pending.append((item, key))
        self.wakeup.set()
        return True

    def _compact(self) -> bool:
        """Move conflatable data out of a full queue into the latest-per-key map."""
        kept: deque[tuple[_Item, Key]] = deque()
        latest = self._latest
        for item, key in reversed(self._pending):  # newest first: it is the one to keep
            if key is None:
                kept.appendleft((item, key))
            elif key in latest:
                self._stats.messages_conflated += 1
            else:
                latest[key] = item
        self._pending = kept
        return len(kept) < self.capacity and len(latest) <= self.capacity

    def control(self, message: dict[str, Any]) -> bool:
        """Queue a protocol frame (reply, ping, error); they go out before any queued event."""
        if len(self._control) >= CONTROL_CAPACITY:
            return False
        self._control.append(_encode_str(message).decode())
        self.wakeup.set()
        return True

    def next_frame(self) -> tuple[str, bool] | None:
        """(frame, is_event) to send next, or None when nothing is waiting."""
        if self._control:
            return self._control.popleft(), False
        while self._pending or self._latest:
            if self._pending:
                item = self._pending.popleft()[0]
            else:
                item = self._latest.pop(next(iter(self._latest)))
            try:
                frame = item.frame(self.seq + 1)
            except (TypeError, ValueError, msgspec.EncodeError):
                self._stats.encode_errors += 1
                log.exception("cannot encode a %s for topic %s", item.type, item.topic)
                continue
            self.seq += 1
            return frame, True
        return None

    def forget(self, topics: set[str]) -> None:
        """Remove queued events of topics the client no longer wants."""
        self._pending = deque(entry for entry in self._pending if entry[0].topic not in topics)
        for key in [k for k, item in self._latest.items() if item.topic in topics]:
            del self._latest[key]

    def close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.closing.set()
        self.wakeup.set()


class BusFanout:
    """The bus side of the hub: routes bus messages to the clients subscribed to their topic."""

    def __init__(self, bus: Any, *, queue_size: int = 1000, stats: HubStats | None = None) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self._bus = bus
        self.queue_size = queue_size
        self.stats = stats if stats is not None else HubStats()
        self._clients: set[HubClient] = set()
        self._routes: dict[str, tuple[HubClient, ...]] = {}
        self._refs: dict[str, int] = {}
        self._topic_of: dict[tuple[str, str], str] = {}
        self._handlers: dict[str, Callable[[Any], None]] = {
            **{p: self._market_handler(kind, "market.") for p, kind in _MARKET_KINDS.items()},
            "data.books.*": self._market_handler("books", "book."),
            "events.order.*": self._on_order_event,
            "events.position.*": self._plain_handler("positions"),
            "events.risk": self._plain_handler("risk"),
            "news": self._plain_handler("news"),
            "agents.*": self._plain_handler("agents"),
            "wallet.*": self._wallet_handler(),
            "metamask.*": self._wallet_handler(),
            "walletconnect.*": self._wallet_handler(),
        }

    @property
    def clients(self) -> int:
        return len(self._clients)

    def bus_patterns(self) -> list[str]:
        """The bus patterns subscribed right now (one subscription each, whatever the clients)."""
        return sorted(p for p, n in self._refs.items() if n > 0)

    def attach(self, principal: Principal) -> HubClient:
        client = HubClient(principal, self.queue_size, self.stats)
        self._clients.add(client)
        self.stats.connections_total += 1
        self.stats.clients = len(self._clients)
        return client

    def detach(self, client: HubClient) -> None:
        self.unsubscribe(client, set(client.topics))
        self._clients.discard(client)
        self.stats.clients = len(self._clients)

    @staticmethod
    def check_topics(topics: list[Any]) -> None:
        """TopicError naming every unknown topic of the list, if there is one."""
        bad: list[str] = []
        for topic in topics:
            try:
                parse_topic(topic)
            except TopicError as exc:
                bad.extend(exc.topics)
        if bad:
            raise TopicError("unknown topics: " + ", ".join(bad), bad)

    def subscribe(self, client: HubClient, topics: list[Any]) -> None:
        """Add topics, all or none: any unknown topic raises TopicError and changes nothing."""
        self.check_topics(topics)
        new = {t for t in topics if t not in client.topics}
        if len(client.topics) + len(new) > MAX_TOPICS_PER_CLIENT:
            raise TopicError(f"at most {MAX_TOPICS_PER_CLIENT} topics per connection", sorted(new))
        for topic in new:
            client.topics.add(topic)
            self._routes[topic] = (*self._routes.get(topic, ()), client)
            for pattern in FAMILY_PATTERNS[parse_topic(topic)]:
                self._ref(pattern, +1)

    def unsubscribe(self, client: HubClient, topics: set[str]) -> None:
        gone = topics & client.topics
        for topic in gone:
            client.topics.discard(topic)
            remaining = tuple(c for c in self._routes.get(topic, ()) if c is not client)
            if remaining:
                self._routes[topic] = remaining
            else:
                self._routes.pop(topic, None)
            for pattern in FAMILY_PATTERNS[parse_topic(topic)]:
                self._ref(pattern, -1)
        if gone:
            client.forget(gone)

    def clients_of(self, user_id: int) -> list[HubClient]:
        return [c for c in self._clients if c.principal.user_id == user_id]

    def drop_slow(self, client: HubClient) -> None:
        if client not in self._clients:
            return
        self.stats.clients_dropped += 1
        log.warning("dropping slow websocket client %s", client.principal.username)
        self.drop(client, CLOSE_TOO_SLOW, "too slow")

    def drop(self, client: HubClient, code: int, reason: str) -> None:
        """Take a client off every route now; ws.py closes its socket with `code`."""
        if client not in self._clients:
            return
        self.detach(client)
        client.close(code, reason)

    def close_all(self, code: int, reason: str) -> None:
        for client in list(self._clients):
            self.detach(client)
            client.close(code, reason)

    def _ref(self, pattern: str, delta: int) -> None:
        count = self._refs.get(pattern, 0) + delta
        self._refs[pattern] = count
        if count == 1 and delta > 0:
            self._bus.subscribe(pattern, self._handlers[pattern], HUB_PRIORITY)
        elif count == 0:
            self._bus.unsubscribe(pattern, self._handlers[pattern])

    # ---- bus handlers: run inside bus.publish, on the loop thread; they only enqueue ----------
    def _fan(self, clients: tuple[HubClient, ...], item: _Item, key: Key) -> None:
        slow = [client for client in clients if not client.offer(item, key)]
        for client in slow:
            self.drop_slow(client)

    def _market_handler(self, kind: str, prefix: str) -> Callable[[Any], None]:
        topic_of = self._topic_of
        routes = self._routes

        def handler(message: Any) -> None:
            iid = getattr(message, "instrument_id", None)
            if not isinstance(iid, str):
                return
            topic = topic_of.get((prefix, iid))
            if topic is None:
                topic = topic_of[(prefix, iid)] = prefix + iid.rpartition("@")[0]
            clients = routes.get(topic)
            if clients:
                self._fan(clients, _Item(topic, message), (kind, iid))

        return handler

    def _plain_handler(self, topic: str) -> Callable[[Any], None]:
        routes = self._routes

        def handler(message: Any) -> None:
            clients = routes.get(topic)
            if clients:
                self._fan(clients, _Item(topic, message), None)

        return handler

    def _wallet_handler(self) -> Callable[[Any], None]:
        """A user's MetaMask or WalletConnect session (provider metamask:<user id>) is that
        user's business alone: its requests, transactions and swaps go only to that user."""
        routes = self._routes

        def handler(message: Any) -> None:
            clients = routes.get("wallets")
            if not clients:
                return
            owner = _wallet_owner(getattr(message, "provider_id", None))
            if owner is not None:
                clients = tuple(c for c in clients if c.principal.user_id == owner)
            if clients:
                self._fan(clients, _Item("wallets", message), None)

        return handler

    def _on_order_event(self, message: Any) -> None:
        clients = self._routes.get("orders")
        if clients:
            self._fan(clients, _Item("orders", message), None)
        if type(message) is OrderFilled:
            clients = self._routes.get("positions")
            if clients:
                self._fan(clients, _Item("positions", message), None)


def _wallet_owner(provider_id: object) -> int | None:
    """The user a browser or phone wallet belongs to; None for the platform's own wallets."""
    if not isinstance(provider_id, str):
        return None
    kind, _, user = provider_id.partition(":")
    if kind not in _USER_WALLETS:
        return None
    return int(user) if user.isdigit() else -1  # malformed: nobody's
