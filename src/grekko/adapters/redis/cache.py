"""RedisCache: hot read models (positions, open orders, a portfolio summary) shared by API replicas.

Values are JSON (msgspec) so any process, or a person with redis-cli, can read them; every entry
has a TTL, so a writer that dies leaves nothing stale forever. The cache is never the source of
truth: the projections rebuilt from the event store are, and a miss means "rebuild or read
through". Invalidation by prefix lets a projection drop everything it owns in one call.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeVar, overload

import msgspec
from redis.asyncio import Redis

from grekko.core.errors import ConfigError, DataError

T = TypeVar("T")
_GLOB = re.compile(r"([*?\[\]\\])")
_UNLINK_BATCH = 500


class RedisCache:
    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "grekko:cache",
        default_ttl_s: float = 60.0,
    ) -> None:
        if not namespace or default_ttl_s <= 0:
            raise ConfigError("the cache needs a namespace and a positive default TTL")
        self._client = Redis.from_url(url, protocol=2, socket_connect_timeout=2)
        self._prefix = namespace + ":"
        self._default_ttl_s = default_ttl_s
        self._encoder = msgspec.json.Encoder()

    @overload
    async def get(self, key: str) -> Any: ...
    @overload
    async def get(self, key: str, as_type: type[T]) -> T | None: ...
    async def get(self, key: str, as_type: Any = None) -> Any:
        """The value (None on a miss): plain JSON, or decoded into as_type (a msgspec Struct)."""
        raw = await self._client.get(self._prefix + key)
        if raw is None:
            return None
        try:
            if as_type is None:
                return msgspec.json.decode(raw)
            return msgspec.json.decode(raw, type=as_type)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise DataError(f"cached {key!r} does not decode: {exc}") from None

    async def set(self, key: str, value: Any, *, ttl_s: float | None = None) -> None:
        """Store a JSON-ready value or a msgspec Struct for ttl_s (default: the cache's TTL)."""
        ttl = self._default_ttl_s if ttl_s is None else ttl_s
        if ttl <= 0:
            raise ConfigError(f"cache TTL must be positive, got {ttl}")
        await self._client.set(
            self._prefix + key, self._encoder.encode(value), px=math.ceil(ttl * 1000)
        )

    async def ttl(self, key: str) -> float | None:
        """Seconds the entry has left; None when it is not cached."""
        left_ms = await self._client.pttl(self._prefix + key)
        return None if left_ms < 0 else left_ms / 1000

    async def delete(self, key: str) -> bool:
        return bool(await self._client.unlink(self._prefix + key))

    async def invalidate_prefix(self, prefix: str) -> int:
        """Drop every entry whose key starts with prefix ("" drops the whole namespace)."""
        pattern = _GLOB.sub(r"\\\1", self._prefix + prefix) + "*"
        dropped = 0
        batch: list[bytes] = []
        async for key in self._client.scan_iter(match=pattern, count=_UNLINK_BATCH):
            batch.append(key)
            if len(batch) >= _UNLINK_BATCH:
                dropped += await self._client.unlink(*batch)
                batch.clear()
        if batch:
            dropped += await self._client.unlink(*batch)
        return dropped

    async def close(self) -> None:
        await self._client.aclose()
