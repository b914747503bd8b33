"""RedisLease: at most one process works a partition. A second process started for the same
execution or agents partition (a replica too many, a restart racing the old process) waits as
a hot standby and takes over once the holder stops renewing: it died, or was stopped.

The lease is a key holding the holder's random token with a TTL; only the holder renews or
releases it (checked in a Lua script, atomically). A holder that fails to renew in time has
lost it and must stop working at once, since another process may already hold it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from redis.asyncio import Redis

log = logging.getLogger("grekko.redis.lease")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLease:
    def __init__(self, url: str, key: str, *, ttl_ms: int = 10_000) -> None:
        if ttl_ms < 300:
            raise ValueError("a lease shorter than 300 ms cannot be renewed reliably")
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = uuid.uuid4().hex
        self._client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.held = False

    async def try_acquire(self) -> bool:
        ok = await self._client.set(self.key, self.token, nx=True, px=self.ttl_ms)
        self.held = bool(ok)
        return self.held

    async def acquire(self, poll_s: float = 0.25) -> None:
        """Wait (as a standby) until the lease is this process's."""
        while not await self.try_acquire():
            await asyncio.sleep(poll_s)

    async def renew(self) -> bool:
        renewed = await self._client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms)  # type: ignore[misc]
        self.held = bool(renewed)
        return self.held

    async def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew every third of the TTL until cancelled; on_lost() once it could not."""
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                renewed = await self.renew()
            except Exception as exc:  # Redis away: the lease runs out on its own
                log.error("lease %s not renewed: %s", self.key, exc)
                renewed = False
            if not renewed:
                self.held = False
                on_lost()
                return

    async def release(self) -> None:
        try:
            await self._client.eval(_RELEASE, 1, self.key, self.token)  # type: ignore[misc]
        finally:
            self.held = False
            await self._client.aclose()
