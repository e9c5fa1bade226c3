"""Short-lived shared state (counters, flags, one-time values): Redis when configured, else this process's memory.

Every operation is atomic on Redis (a Lua script or a single command), so several app instances sharing one Redis
see one counter. The in-memory store is for the single-process development default only: the CLI refuses more than
one worker without Redis.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis

# INCR then EXPIRE on the first hit, in one step: a crash between the two can never leave a counter without expiry.
_INCR_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class Store(Protocol):
    async def incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit in the window that starts at the first hit; return (count, seconds until reset)."""

    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    async def set_nx(self, key: str, value: str, ttl_seconds: int) -> bool:
        """Set only when absent; ``True`` when this call set it."""

    async def get(self, key: str) -> str | None: ...

    async def ttl(self, key: str) -> int | None:
        """Seconds left for a present key, ``None`` when absent."""

    async def delete(self, key: str) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float]] = {}

    def _live(self, key: str) -> tuple[str, float] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item

    def _sweep(self) -> None:
        if len(self._data) > 50_000:
            now = time.monotonic()
            for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
                del self._data[key]

    async def incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        item = self._live(key)
        if item is None:
            self._sweep()
            item = ("0", time.monotonic() + window_seconds)
        count = int(item[0]) + 1
        self._data[key] = (str(count), item[1])
        return count, max(1, round(item[1] - time.monotonic()))

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._sweep()
        self._data[key] = (value, time.monotonic() + ttl_seconds)

    async def set_nx(self, key: str, value: str, ttl_seconds: int) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def get(self, key: str) -> str | None:
        item = self._live(key)
        return item[0] if item else None

    async def ttl(self, key: str) -> int | None:
        item = self._live(key)
        return max(1, round(item[1] - time.monotonic())) if item else None

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


class RedisStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix.rstrip(":") + ":"
        self._incr = redis.register_script(_INCR_WINDOW)

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def incr(self, key: str, window_seconds: int) -> tuple[int, int]:
        count, ttl = await self._incr(keys=[self._k(key)], args=[window_seconds])
        return int(count), max(1, int(ttl))

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        await self.redis.set(self._k(key), value, ex=max(1, ttl_seconds))

    async def set_nx(self, key: str, value: str, ttl_seconds: int) -> bool:
        return bool(await self.redis.set(self._k(key), value, ex=max(1, ttl_seconds), nx=True))

    async def get(self, key: str) -> str | None:
        value = await self.redis.get(self._k(key))
        return value.decode() if isinstance(value, bytes) else value

    async def ttl(self, key: str) -> int | None:
        ttl = await self.redis.ttl(self._k(key))
        return int(ttl) if ttl and ttl > 0 else None

    async def delete(self, key: str) -> None:
        await self.redis.delete(self._k(key))


def create_store(redis: Redis | None, prefix: str) -> Store:
    return RedisStore(redis, prefix) if redis is not None else MemoryStore()
