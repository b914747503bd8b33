"""Rate limits per client IP, per user and (stricter) on the login endpoint, with `limits`.

The moving-window strategy counts the hits of the last full window at any instant, so a client
cannot double its budget by bursting around a window boundary. Storage is "memory://" (one
process; counters vanish on restart) or "redis://host:port" (shared by every API replica).

The user key is the authenticated principal when an outer layer already put one in
`request.state.principal`; otherwise a hash of the Authorization header's credential, taken
without validating it. An attacker can rotate made-up tokens to dodge the per-user limit, but
not the per-IP limit, which always applies. The client IP is the socket peer; X-Forwarded-For
is believed only when the peer is one of `trusted_proxies`.

When the storage fails (Redis down) requests pass (fail open, logged) unless fail_open=False, in
which case they get 503: choose between an API that stays up and limits that always hold.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from grekko.api.problems import problem_response
from grekko.core.errors import ConfigError

log = logging.getLogger("grekko.api.ratelimit")

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
LOGIN_PATH = "/api/v1/auth/login"
UserKey = Callable[[Headers], str | None]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: int = 0
    limit: str = ""  # "ip" | "user" | "login" | "storage" when refused


class RateLimiter:
    """Counts hits against the three limits ("1200/minute" style strings) in one storage."""

    def __init__(
        self,
        storage_uri: str = "memory://",
        user_limit: str = "1200/minute",
        ip_limit: str = "2400/minute",
        login_limit: str = "10/minute",
        *,
        key_prefix: str = "grekko-rl",
        fail_open: bool = True,
    ) -> None:
        self._items = {
            "user": _parse_limit("user", user_limit),
            "ip": _parse_limit("ip", ip_limit),
            "login": _parse_limit("login", login_limit),
        }
        self.storage_uri = _safe(storage_uri)
        self.key_prefix = key_prefix
        self.fail_open = fail_open
        self._storage = _storage(storage_uri, key_prefix)
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def check(self, *, ip: str, user: str | None = None, login: bool = False) -> Decision:
        """Count one hit on every limit that applies; the first exhausted one refuses."""
        keys: list[tuple[str, str]] = []
        if login:
            keys.append(("login", ip))
        if user:
            keys.append(("user", user))
        keys.append(("ip", ip))
        try:
            for kind, key in keys:
                item = self._items[kind]
                if not await self._limiter.hit(item, self.key_prefix, kind, key):
                    stats = await self._limiter.get_window_stats(item, self.key_prefix, kind, key)
                    return Decision(False, _retry_after(stats.reset_time), kind)
        except StorageError as exc:
            log.error(
                "rate limit storage failed (%s); %s",
                type(exc.storage_error).__name__,
                "letting requests through" if self.fail_open else "refusing requests",
            )
            return Decision(True) if self.fail_open else Decision(False, 5, "storage")
        return Decision(True)

    async def healthy(self) -> bool:
        """Whether the storage answers (Redis PING); memory storage always does."""
        try:
            return bool(await self._storage.check())
        except Exception:
            return False

    async def aclose(self) -> None:
        """Close the Redis connections (app shutdown); `limits` has no close of its own."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()

    async def reset(self) -> None:
        """Forget every counter under this limiter's key prefix (tests, admin unlock)."""
        await self._storage.reset()


class RateLimitMiddleware:
    """Pure ASGI: refuses over-limit HTTP requests with a 429 problem, WebSockets with close 1008."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        *,
        user_key: UserKey | None = None,
        trusted_proxies: Iterable[str] = (),
        exempt_paths: Iterable[str] = EXEMPT_PATHS,
        login_path: str = LOGIN_PATH,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.user_key: UserKey = user_key if user_key is not None else bearer_user_key
        self.trusted = _networks(trusted_proxies)
        self.exempt = frozenset(exempt_paths)
        self.login_path = login_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        login = (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == self.login_path
        )
        decision = await self.limiter.check(
            ip=client_ip(scope, self.trusted),
            user=principal_key(scope) or self.user_key(headers),
            login=login,
        )
        if decision.allowed:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "rate limited"})
        else:
            await _refuse(decision, scope, receive, send)


async def _refuse(decision: Decision, scope: Scope, receive: Receive, send: Send) -> None:
    if decision.limit == "storage":
        response = problem_response(
            Request(scope),
            503,
            "rate_limiter_unavailable",
            "Service temporarily unavailable",
            "The rate limit storage cannot be reached; try again shortly.",
            headers={"Retry-After": str(decision.retry_after_s)},
        )
    else:
        response = problem_response(
            Request(scope),
            429,
            "rate_limited",
            "Too many requests",
            f"The {decision.limit} rate limit is exhausted; retry after "
            f"{decision.retry_after_s} s.",
            headers={"Retry-After": str(decision.retry_after_s)},
            extra={"retry_after": decision.retry_after_s},
        )
    await response(scope, receive, send)


def bearer_user_key(headers: Headers) -> str | None:
    """An unvalidated user key: a hash of the Authorization credential (never the credential)."""
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    return "cred:" + hashlib.sha256(credential.encode("utf-8", "replace")).hexdigest()[:32]


def principal_key(scope: Scope) -> str | None:
    principal = (scope.get("state") or {}).get("principal")
    user_id = getattr(principal, "user_id", None)
    return None if user_id is None else f"user:{user_id}"


def client_ip(scope: Scope, trusted: tuple[Any, ...] = ()) -> str:
    """The socket peer; through trusted proxies, the right-most X-Forwarded-For hop not trusted."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = Headers(scope=scope).get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _networks(entries: Iterable[str]) -> tuple[Any, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ConfigError(f"trusted proxy {entry!r} is not an IP address or CIDR") from exc
    return tuple(networks)


def _parse_limit(kind: str, text: str) -> RateLimitItem:
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"{kind} rate limit {text!r} is not like '10/minute'") from exc


def _storage(uri: str, key_prefix: str) -> Any:
    scheme = uri.partition("://")[0]
    try:
        if scheme == "memory":
            return storage_from_string("async+memory://")
        if scheme in {"redis", "rediss"}:
            return storage_from_string(
                f"async+{uri}",
                implementation="redispy",
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_connect_timeout=2,
                socket_timeout=2,
            )
    except ConfigurationError as exc:
        raise ConfigError(f"rate limit storage {_safe(uri)!r} cannot be used: {exc}") from exc
    raise ConfigError(
        f"rate limit storage must be memory:// or redis(s)://host:port, got {_safe(uri)!r}"
    )


def _safe(uri: str) -> str:
    """The URI without its user:password part, for messages."""
    scheme, sep, rest = uri.partition("://")
    return scheme + sep + rest.rpartition("@")[2]


def _retry_after(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))
