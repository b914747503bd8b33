"""Hot read models shared by gateway replicas through a cache (Redis in a deployment).

An answer is cached under a key that names the version of what it was computed from (for
candles: the time of the instrument's last bar), so a hit is never stale and nothing needs
invalidating; the TTL only bounds memory. A cache that fails is a miss, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from grekko.api.services import ApiServices

log = logging.getLogger("grekko.api.cache")


async def cached(svc: ApiServices, key: str, compute: Callable[[], Any]) -> Any:
    """compute() through svc.extra["read_cache"] when there is one; its value is JSON-ready."""
    cache = svc.extra.get("read_cache")
    stats = svc.extra.setdefault("read_cache_stats", {"hits": 0, "misses": 0, "errors": 0})
    if cache is None:
        return compute()
    try:
        hit = await cache.get(key)
    except Exception as exc:
        stats["errors"] += 1
        log.warning("read cache unavailable: %s", exc)
        return compute()
    if hit is not None:
        stats["hits"] += 1
        return hit
    stats["misses"] += 1
    value = compute()
    try:
        await cache.set(key, value)
    except Exception as exc:
        stats["errors"] += 1
        log.warning("read cache unavailable: %s", exc)
    return value
