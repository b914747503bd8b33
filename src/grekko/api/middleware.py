"""Security middleware: CORS allow-list, security headers, request body limit, WebSocket origins.

Everything here is plain ASGI (never BaseHTTPMiddleware), so streaming responses and WebSockets
pass through untouched. `install_security` stacks them, outermost first:

  SecurityHeaders -> CORS -> [RateLimit] -> BodyLimit -> the app's own middleware and routes

so every answer, including a CORS preflight, a 429 and a 413, carries the security headers, and
the 429 and 413 also carry CORS headers a browser needs to read them. Rate limiting runs before
any body is read. Middleware added to the app after install_security sits outside all of these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grekko.api.problems import problem_response
from grekko.api.ratelimit import RateLimiter, RateLimitMiddleware
from grekko.core.errors import ConfigError

HSTS = "max-age=63072000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()"
ALLOW_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID")
EXPOSE_HEADERS = ("Retry-After", "Location", "X-Request-ID")
# sha256 of the <style> lightweight-charts 5.x adds for its TradingView attribution logo; should a
# new version change that text, the browser tests report the CSP violation with the new hash.
CHART_LOGO_STYLE = "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def content_security_policy(host: str | None, https: bool) -> str:
    """Same-origin SPA: own scripts and stylesheets only, WebSocket to this host.

    No 'unsafe-inline' for styles: the Vite build links its CSS, and the UI and lightweight-charts
    set styles through the CSSOM (element.style), which CSP does not govern. The one <style>
    element, lightweight-charts' attribution logo, is allowed by its hash (see CHART_LOGO_STYLE).
    """
    ws = ""
    if host and _HOST.fullmatch(host):
        ws = f" {'wss' if https else 'ws'}://{host}"
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self' {CHART_LOGO_STYLE}; "
        "img-src 'self' data: blob:; font-src 'self' data:; "
        f"connect-src 'self'{ws}; worker-src 'self' blob:; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response (a header the app set itself is kept)."""

    def __init__(self, app: ASGIApp, *, csp: str | None = None) -> None:
        self.app = app
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        path: str = scope["path"]
        api = path == "/api" or path.startswith("/api/")
        csp = self.csp or content_security_policy(Headers(scope=scope).get("host"), https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if api:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WebSocketOriginMiddleware:
    """Refuses WebSocket handshakes from other sites' pages (cross-site WebSocket hijacking).

    CORS does not cover WebSockets: a browser opens one from any page and sends its cookies.
    Allowed: no Origin (not a browser), an allow-listed origin, or this very host.
    """

    def __init__(self, app: ASGIApp, *, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin and origin not in self.origins:
                same_host = urlsplit(origin).netloc == headers.get("host")
                if not same_host:
                    await send({"type": "websocket.close", "code": 1008, "reason": "origin"})
                    return
        await self.app(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 above max_body_bytes: at once from Content-Length, else while a chunked body streams.

    A streamed body over the limit makes `receive` raise; whatever the app answers to that is
    dropped and the 413 problem is sent instead (a response already started cannot be replaced,
    so then the error propagates and the server closes the connection).
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        if max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        self.app = app
        self.max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await self._answer(scope, receive, send, 400)
                return
            if int(declared) > self.max:
                await self._answer(scope, receive, send, 413)
                return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = {"received": 0, "exceeded": False, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max:
                    state["exceeded"] = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["exceeded"] and not state["started"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state["exceeded"] or state["started"]:
                raise
        if state["exceeded"] and not state["started"]:
            await self._answer(scope, receive, send, 413)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, status: int) -> None:
        request = Request(scope)
        if status == 400:
            response = problem_response(
                request, 400, "bad_request", "Bad request", "Content-Length is not a number."
            )
        else:
            response = problem_response(
                request,
                413,
                "payload_too_large",
                "Payload too large",
                f"The request body is over the limit of {self.max} bytes.",
                extra={"max_body_bytes": self.max},
            )
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def install_security(
    app: Any,
    *,
    cors_origins: Sequence[str],
    max_body_bytes: int,
    rate_limiter: RateLimiter | None = None,
    rate_limit_options: dict[str, Any] | None = None,
    csp: str | None = None,
    allow_headers: Sequence[str] = ALLOW_HEADERS,
) -> None:
    """Add the security middleware to a Starlette/FastAPI app in the right order (see module doc).

    cors_origins: exact origins ("https://grekko.example.com"); "*" is refused because
    credentials are allowed. rate_limit_options go to RateLimitMiddleware (user_key,
    trusted_proxies, exempt_paths, login_path).
    """
    origins = [origin.rstrip("/") for origin in cors_origins]
    for origin in origins:
        parts = urlsplit(origin)
        if origin == "*" or parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(f"CORS origin {origin!r} must be an exact http(s)://host[:port]")
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)
    if rate_limiter is not None:
        app.add_middleware(RateLimitMiddleware, limiter=rate_limiter, **(rate_limit_options or {}))
    app.add_middleware(WebSocketOriginMiddleware, origins=origins)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials=True,
        allow_methods=list(ALLOW_METHODS),
        allow_headers=list(allow_headers),
        expose_headers=list(EXPOSE_HEADERS),
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, csp=csp)
