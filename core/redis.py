"""The optional Redis connection that shares rate limits, nonces and revocations between instances."""

from __future__ import annotations

from redis.asyncio import Redis

from core.settings import Settings


def create_redis(settings: Settings) -> Redis | None:
    if not settings.redis.url:
        return None
    return Redis.from_url(settings.redis.url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30)
