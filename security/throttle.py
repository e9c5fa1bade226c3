"""Brute-force protection for sign-in: per account name and per client address.

At most ``EMON_SECURITY_LOGIN_MAX_FAILURES`` (10) failed tries in ``EMON_SECURITY_LOGIN_WINDOW_SECONDS`` (5 minutes);
the next try is refused without being checked, for a lockout that doubles each time it recurs within a day (5, 10,
20 ... minutes, capped at ``EMON_SECURITY_LOGIN_LOCKOUT_MAX_SECONDS``). Account names are counted whether or not the
account exists, so a lockout says nothing about which accounts exist.
"""

from __future__ import annotations

from core.errors import RateLimited
from core.settings import Settings
from security.stores import Store

LOCKOUT_MEMORY_SECONDS = 24 * 3600


def account_key(username: str) -> str:
    return "acct:" + username.strip().casefold()


def address_key(address: str | None) -> str:
    return "addr:" + (address or "unknown")


class LoginThrottle:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.max_failures = settings.security.login_max_failures
        self.window = settings.security.login_window_seconds
        self.max_lockout = settings.security.login_lockout_max_seconds

    async def check(self, *keys: str) -> None:
        """Refuse (429 with ``Retry-After``) while any of ``keys`` is locked out."""
        for key in keys:
            left = await self.store.ttl(f"login:lock:{key}")
            if left is not None:
                raise RateLimited("Too many failed sign-in attempts; try again later", retry_after=left)

    async def failed(self, *keys: str) -> None:
        for key in keys:
            count, _ = await self.store.incr(f"login:fail:{key}", self.window)
            if count >= self.max_failures:
                lockouts, _ = await self.store.incr(f"login:lockouts:{key}", LOCKOUT_MEMORY_SECONDS)
                duration = min(self.window * 2 ** min(lockouts - 1, 16), self.max_lockout)
                await self.store.set(f"login:lock:{key}", str(lockouts), duration)
                await self.store.delete(f"login:fail:{key}")

    async def succeeded(self, *keys: str) -> None:
        for key in keys:
            await self.store.delete(f"login:fail:{key}")
