"""The gateway's way to the agents when they run in their own process (`grekko serve agents`):
every /api/v1/agents request is passed on as it came (method, path, query, body, credentials)
and the answer handed back. The agents process authenticates the caller itself, with the same
keys, so the gateway grants nothing it would not.

Where the agents' API is: the process that runs Spot, Gordo and Gekko (the holder of agents
partition 0) announces its URL in Redis (AGENTS_API_KEY) when it starts, so after a failover
the gateway follows the standby that took over; without an announcement, serve.agents_url."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from grekko.api.problems import ApiProblem

AGENTS_API_KEY = "grekko:agents:api"
PASSED_ON = ("authorization", "x-api-key", "content-type", "accept", "idempotency-key")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class AgentsLocator:
    """The agents' URL: the announced one (read at most every `ttl_s`), else the configured."""

    def __init__(
        self,
        configured: str,
        announced: Callable[[], Awaitable[str | None]] | None = None,
        ttl_s: float = 2.0,
    ) -> None:
        self.configured = configured.rstrip("/")
        self._announced = announced
        self._ttl_s = ttl_s
        self._url, self._until = self.configured, 0.0

    async def url(self) -> str:
        if self._announced is not None and time.monotonic() >= self._until:
            try:
                found = await self._announced()
            except Exception:  # Redis down: keep the last known way
                found = None
            if found:
                self._url = found.rstrip("/")
            self._until = time.monotonic() + self._ttl_s
        return self._url

    def forget(self) -> None:
        """The last URL did not answer: ask again on the next request."""
        self._until = 0.0


def agents_proxy(locator: AgentsLocator | str, timeout_s: float = 10.0) -> tuple[APIRouter, Any]:
    """The router, and the client to close at shutdown."""
    where = locator if isinstance(locator, AgentsLocator) else AgentsLocator(locator)
    client = httpx.AsyncClient(timeout=timeout_s)
    router = APIRouter()

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() in PASSED_ON}
        try:
            answer = await client.request(
                request.method,
                await where.url() + request.url.path,
                params=list(request.query_params.multi_items()),
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError as exc:
            where.forget()
            raise ApiProblem(
                503, "agents_unreachable", "The agents service does not answer", type(exc).__name__
            ) from None
        keep = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() in {"content-type", "www-authenticate"}
        }
        return Response(answer.content, status_code=answer.status_code, headers=keep)

    for path in ("/api/v1/agents", "/api/v1/agents/{rest:path}"):
        router.add_api_route(path, forward, methods=METHODS, include_in_schema=False)
    return router, client
