"""Redis: the scale-out message bus (Streams, consumer groups) and the hot read-model cache.

Only the bootstrap picks these; engines see the StreamBus port (grekko.ports.streams).
"""

from grekko.adapters.redis.cache import RedisCache
from grekko.adapters.redis.codec import MessageCodec, MessageDecodeError
from grekko.adapters.redis.lease import RedisLease
from grekko.adapters.redis.streams import RedisStreamsBus

__all__ = ["MessageCodec", "MessageDecodeError", "RedisCache", "RedisLease", "RedisStreamsBus"]
