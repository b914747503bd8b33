"""Agent messaging: send to one agent, broadcast to all, subscribe by agent or message type.

Messages queue and are delivered highest priority first (FIFO within a priority), so a risk
alert raised during a consensus round reaches the agents before the routine analysis that was
queued ahead of it. Every delivered message is also published on the bus (`agents.messages.*`)
for the API's WebSocket, and the last ones are kept for the API to list.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable

from grekko.core.ids import IdGenerator
from grekko.core.time import Clock
from grekko.domain.agents import AgentMessage, MessageType, Priority

log = logging.getLogger("grekko.agents.messaging")

MESSAGE_TOPIC_PREFIX = "agents.messages."
BROADCAST = "*"
Handler = Callable[[AgentMessage], None]


class Messenger:
    def __init__(
        self,
        clock: Clock,
        publish: Callable[[str, object], None] | None = None,
        history: int = 1000,
    ) -> None:
        self._clock = clock
        self._publish = publish
        self._ids = IdGenerator("M")
        self._queue: list[tuple[int, int, AgentMessage]] = []
        self._seq = itertools.count()
        self._subscribers: dict[str, list[Handler]] = {}
        self.history: deque[AgentMessage] = deque(maxlen=history)
        self.delivered = 0
        self.failures = 0
        self._delivering = False

    def subscribe(self, key: str, handler: Handler) -> None:
        """key: an agent id (its direct messages and broadcasts), a message type, or '*' (all)."""
        self._subscribers.setdefault(key, []).append(handler)

    def unsubscribe(self, key: str, handler: Handler) -> None:
        handlers = self._subscribers.get(key, [])
        if handler in handlers:
            handlers.remove(handler)

    def send(
        self,
        message_type: MessageType,
        sender: str,
        recipient: str | None,
        payload: dict[str, object],
        priority: Priority = Priority.NORMAL,
    ) -> AgentMessage:
        message = AgentMessage(
            message_id=self._ids.next(),
            message_type=message_type,
            sender=sender,
            recipient=recipient,
            priority=priority,
            ts_ns=self._clock.timestamp_ns(),
            payload=payload,
        )
        heapq.heappush(self._queue, (-int(priority), next(self._seq), message))
        self.flush()
        return message

    def broadcast(
        self,
        message_type: MessageType,
        sender: str,
        payload: dict[str, object],
        priority: Priority = Priority.NORMAL,
    ) -> AgentMessage:
        return self.send(message_type, sender, None, payload, priority)

    def flush(self) -> None:
        """Deliver the queue in priority order; a send from inside a handler joins the queue."""
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._queue:
                _, _, message = heapq.heappop(self._queue)
                self._deliver(message)
        finally:
            self._delivering = False

    def _deliver(self, message: AgentMessage) -> None:
        self.history.append(message)
        self.delivered += 1
        for handler in self._handlers_for(message):
            try:
                handler(message)
            except Exception:
                self.failures += 1
                log.exception("message handler %r failed on %s", handler, message.message_type)
        if self._publish is not None:
            self._publish(MESSAGE_TOPIC_PREFIX + (message.recipient or BROADCAST), message)

    def _handlers_for(self, message: AgentMessage) -> list[Handler]:
        subs = self._subscribers
        keys = [BROADCAST, str(message.message_type)]
        if message.recipient is None:
            keys.extend(k for k in subs if k not in keys and k not in _TYPES)
        else:
            keys.append(message.recipient)
        seen: list[Handler] = []
        for key in keys:
            for handler in subs.get(key, ()):
                if handler not in seen:
                    seen.append(handler)
        return seen

    def messages_for(self, agent_id: str | None = None, limit: int = 100) -> list[AgentMessage]:
        """The latest messages an agent received (all of them when agent_id is None)."""
        picked = [
            m
            for m in reversed(self.history)
            if agent_id is None or m.recipient in (None, agent_id) or m.sender == agent_id
        ]
        return picked[:limit]


_TYPES = frozenset(str(t) for t in MessageType)
