"""The gateway's way to the agents when they run in their own process (`grekko serve agents`):
every /api/v1/agents request is passed on as it came (method, path, query, body, credentials)
and the answer handed back. The agents process authenticates the caller itself, with the same
keys, so the gateway grants nothing it would not."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from grekko.api.problems import ApiProblem

PASSED_ON = ("authorization", "x-api-key", "content-type", "accept", "idempotency-key")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def agents_proxy(base_url: str, timeout_s: float = 10.0) -> tuple[APIRouter, Any]:
    """The router, and the client to close at shutdown."""
    client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)
    router = APIRouter()

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() in PASSED_ON}
        try:
            answer = await client.request(
                request.method,
                request.url.path,
                params=list(request.query_params.multi_items()),
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError as exc:
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
