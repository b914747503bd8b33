"""What the API serves from, handed to create_app by bootstrap (the app builds nothing itself)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from grekko.api.desk import TradingDesk
from grekko.api.principal import Authenticator


@dataclass
class ApiServices:
    desk: TradingDesk
    auth: Authenticator
    settings: Any
    candles: Any = None  # CandleStore
    news: Any = None  # NewsStore
    bookmarks: Any = None  # SqlBookmarkStore: news bookmarks per user
    streamer: Any = None  # DataStreamer
    ingest_metrics: Any = None  # MetricsRegistry
    books: Any = None  # BookManager
    audit: Any = None  # SqlAuditLog
    idempotency: Any = None  # SqlIdempotencyStore
    agents: Any = None  # AgentDesk; None when no agent runs
    ready_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def services_of(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.services
    return found


async def services(request: Request) -> ApiServices:
    """The dependency; async so it resolves on the event loop, with no hop to a worker thread."""
    return services_of(request)


def audit(
    request: Request, actor: str, action: str, target: str, detail: str | dict[str, Any] = ""
) -> None:
    """Append to the hash-chained audit log (a note is kept as {"note": ...})."""
    log = services_of(request).audit
    if log is not None:
        log.append(actor, action, target, detail if isinstance(detail, dict) else {"note": detail})
