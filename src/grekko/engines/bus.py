"""In-process message bus: topic pub/sub with wildcards, command endpoints, request/response.

Delivery is synchronous and deterministic: subscribers of a topic run in (priority desc,
subscription order). A subscriber that raises is logged and counted; the others still run.
Commands sent to an endpoint have exactly one handler and its errors propagate to the sender.
The subscriber list per concrete topic is computed once and cached, so publishing costs one
dict lookup plus the handler calls.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable
from typing import Any

from grekko.core.errors import RoutingError

log = logging.getLogger("grekko.bus")

Handler = Callable[[Any], Any]


class _Subscription:
    __slots__ = ("handler", "pattern", "priority", "seq")

    def __init__(self, pattern: str, handler: Handler, priority: int, seq: int) -> None:
        self.pattern = pattern
        self.handler = handler
        self.priority = priority
        self.seq = seq


class MessageBus:
    def __init__(self) -> None:
        self._subs: list[_Subscription] = []
        self._seq = 0
        self._cache: dict[str, tuple[Handler, ...]] = {}
        self._endpoints: dict[str, Handler] = {}
        self.handler_errors = 0

    # ---- pub/sub -------------------------------------------------------------------------
    def subscribe(self, pattern: str, handler: Handler, priority: int = 0) -> None:
        """pattern: an exact topic or a glob ('data.bars.*', 'events.order.*', '*')."""
        if any(s.pattern == pattern and s.handler == handler for s in self._subs):
            return
        self._seq += 1
        self._subs.append(_Subscription(pattern, handler, priority, self._seq))
        self._cache.clear()

    def unsubscribe(self, pattern: str, handler: Handler) -> None:
        before = len(self._subs)
        self._subs = [s for s in self._subs if not (s.pattern == pattern and s.handler == handler)]
        if len(self._subs) != before:
            self._cache.clear()

    def subscriptions(self, topic: str) -> tuple[Handler, ...]:
        handlers = self._cache.get(topic)
        if handlers is None:
            matching = [s for s in self._subs if fnmatch.fnmatchcase(topic, s.pattern)]
            matching.sort(key=lambda s: (-s.priority, s.seq))
            handlers = tuple(s.handler for s in matching)
            self._cache[topic] = handlers
        return handlers

    def publish(self, topic: str, message: object) -> None:
        handlers = self._cache.get(topic)
        if handlers is None:
            handlers = self.subscriptions(topic)
        for handler in handlers:
            try:
                handler(message)
            except Exception:
                self.handler_errors += 1
                log.exception("subscriber %r failed on topic %s", handler, topic)

    # ---- commands and requests -----------------------------------------------------------
    def register(self, endpoint: str, handler: Handler) -> None:
        if endpoint in self._endpoints:
            raise RoutingError(f"endpoint {endpoint!r} already has a handler")
        self._endpoints[endpoint] = handler

    def deregister(self, endpoint: str) -> None:
        self._endpoints.pop(endpoint, None)

    def send(self, endpoint: str, command: object) -> None:
        """Deliver a command to its one handler; the handler's errors propagate."""
        handler = self._endpoints.get(endpoint)
        if handler is None:
            handler = self._handler_for(endpoint)  # raises the routing error
        handler(command)

    def request(self, endpoint: str, request: object) -> Any:
        """Synchronous request/response through a registered endpoint."""
        return self._handler_for(endpoint)(request)

    def has_endpoint(self, endpoint: str) -> bool:
        return endpoint in self._endpoints

    def _handler_for(self, endpoint: str) -> Handler:
        try:
            return self._endpoints[endpoint]
        except KeyError:
            raise RoutingError(f"no handler registered for endpoint {endpoint!r}") from None
