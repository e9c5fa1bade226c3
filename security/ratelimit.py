"""Rate limits that hold across instances: one atomic counter per key and window in the shared store.

Other packages call :meth:`Limiter.hit` (or :meth:`Limiter.enforce`, which raises :class:`core.errors.RateLimited`)
with a key naming what is limited, e.g. ``f"checkin:{actor.device_id}"``. The app-wide middleware limits every API
request per caller (the actor, else the client address) and sets the ``RateLimit-*`` headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import RateLimited
from security.actor import Actor
from security.clientaddr import client_address
from security.stores import Store


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
        ]
        if not self.allowed:
            headers.append((b"retry-after", str(self.reset_seconds).encode()))
        return headers


class Limiter:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def hit(self, key: str, limit: int, window_seconds: int) -> LimitResult:
        """Count one hit for ``key``; allowed while at most ``limit`` hits fall in the window."""
        count, reset = await self.store.incr(f"rl:{key}:{window_seconds}", window_seconds)
        return LimitResult(count <= limit, limit, max(0, limit - count), reset)

    async def enforce(self, key: str, limit: int, window_seconds: int) -> LimitResult:
        result = await self.hit(key, limit, window_seconds)
        if not result.allowed:
            raise RateLimited(
                "Too many requests; try again later", retry_after=result.reset_seconds, limit=result.limit
            )
        return result


# Probes and metrics are scraped by machines on a schedule; limiting them would only hide an outage.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RateLimitMiddleware:
    """Limits each caller to ``EMON_SECURITY_API_RATE_PER_MINUTE`` requests and tells them where they stand."""

    def __init__(
        self, app: ASGIApp, per_minute: int, trusted_proxies: list[str], limiter: Limiter | None = None
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.per_minute = per_minute
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        user: Any = scope.get("user")
        if isinstance(user, Actor):
            key = f"api:actor:{user.id}"
        else:
            key = f"api:addr:{client_address(scope, self.trusted_proxies)}"
        limiter = self.limiter or scope["app"].state.security.limiter  # built at start-up (needs Redis)
        result = await limiter.hit(key, self.per_minute, 60)
        if not result.allowed:
            raise RateLimited(
                "Too many requests; try again later", retry_after=result.reset_seconds, limit=self.per_minute
            )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in result.headers() if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
