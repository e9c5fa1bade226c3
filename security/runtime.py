"""The security services of one app instance, built once at start-up and kept on ``app.state.security``.

With ``EMON_REDIS_URL`` set, rate limits, login throttles, nonces and revocations live in Redis and hold across
every instance; without it they live in this process (counters) and the database (nonces, revocations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from core.db import Database
from core.settings import Settings
from security.mfa import Totp
from security.nonces import DatabaseNonces, Nonces, RedisNonces
from security.passwords import Passwords
from security.ratelimit import Limiter
from security.revocation import DatabaseRevocations, RedisRevocations, Revocations
from security.stores import RedisStore, Store, create_store
from security.throttle import LoginThrottle
from security.tokens import TokenService


@dataclass
class SecurityRuntime:
    settings: Settings
    db: Database
    tokens: TokenService
    passwords: Passwords
    totp: Totp
    store: Store
    limiter: Limiter
    throttle: LoginThrottle
    revocations: Revocations
    nonces: Nonces

    @property
    def audit_key(self) -> bytes:
        return self.settings.security.audit_hmac_key.encode()


def build_runtime(settings: Settings, db: Database, redis: Redis | None, tokens: TokenService) -> SecurityRuntime:
    store = create_store(redis, settings.redis.prefix)
    revocations: Revocations
    nonces: Nonces
    if isinstance(store, RedisStore):
        revocations = RedisRevocations(store)
        nonces = RedisNonces(store)
    else:
        revocations = DatabaseRevocations(db, settings.security.revocation_cache_seconds)
        nonces = DatabaseNonces(db)
    return SecurityRuntime(
        settings=settings,
        db=db,
        tokens=tokens,
        passwords=Passwords(settings),
        totp=Totp(settings),
        store=store,
        limiter=Limiter(store),
        throttle=LoginThrottle(store, settings),
        revocations=revocations,
        nonces=nonces,
    )


def runtime_of(app_or_request: Any) -> SecurityRuntime:
    app = getattr(app_or_request, "app", app_or_request)
    return app.state.security
