"""`grekko serve gateway`: the same API, WebSocket and UI as `grekko up`, over a kernel that
another set of processes trades with. Orders go to risk over the stream bus; the gateway's
kernel follows bars and order events from the bus and the event store."""

from __future__ import annotations

import asyncio
from typing import Any

from grekko.settings import Settings


class StreamSession:
    """What the API platform needs of a session, fed by the stream bus instead of a replay."""

    remote = True
    agents = None
    chain = None

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.kernel = runtime.kernel
        self.store = runtime.store
        self.replay = runtime.state["replay"]
        self.clock = runtime.state["clock"]
        self.routers: list[Any] = []  # the gateway's own routes, ahead of the API's

    async def run_async(self, stop: asyncio.Event) -> str:
        try:
            await self.runtime.run(stop)
        finally:
            await self.runtime.close()
        return "stopped"

    def summary(self) -> dict[str, Any]:
        from grekko.engines.kernel import describe

        return {"service": "gateway", **describe(self.kernel)}

    def close(self) -> None:
        """The stream bus and the store close when run_async ends."""


def gateway_platform(runtime: Any, settings: Settings) -> Any:
    """The API over the stream session, with Redis as the replicas' shared read cache."""
    from redis.asyncio import Redis

    from grekko.adapters.redis import RedisCache
    from grekko.api.agents_proxy import AGENTS_API_KEY, AgentsLocator, agents_proxy
    from grekko.bootstrap.api import _assemble

    session = StreamSession(runtime)
    redis = Redis.from_url(settings.redis.url.get_secret_value(), socket_timeout=2)

    async def announced() -> str | None:
        value = await redis.get(AGENTS_API_KEY)
        return value.decode() if isinstance(value, bytes) else value

    proxy, client = agents_proxy(AgentsLocator(settings.serve.agents_url, announced))
    session.routers = [proxy]
    runtime.async_closers += [client.aclose, redis.aclose]
    platform = _assemble(settings, session)
    cache = RedisCache(settings.redis.url.get_secret_value(), namespace="grekko:cache")
    platform.app.state.services.extra["read_cache"] = cache
    runtime.async_closers.append(cache.close)
    return platform
