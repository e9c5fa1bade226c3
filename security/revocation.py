"""Access-token revocation: one token by ``jti``, or every token of a subject (account or device) issued so far.

Redis holds revocations when configured (shared by every instance, expiring with the tokens they name); otherwise
the ``token_revocations`` table does. Checked by the authentication middleware on every request.

Without Redis, asking the database on every request costs a connection and a round trip each. The database store
therefore remembers, for ``EMON_SECURITY_REVOCATION_CACHE_SECONDS`` (default 2 s, 0 asks every time), that a token
was not revoked. A revocation made in this process (any store of it, once its transaction commits) takes effect at
once; one made by another process (another instance, the CLI) takes effect here within that many seconds, far inside
an access token's life. Run Redis for revocations that every instance sees at once.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import Database
from security.models import TokenRevocation
from security.stores import RedisStore


class Revocations(Protocol):
    """``session``: the caller's transaction, so that with the database store the revocation commits with the work
    that caused it (and SQLite's single writer is not asked for a second transaction)."""

    async def revoke_jti(self, jti: str, expires_at: datetime, session: AsyncSession | None = None) -> None: ...

    async def revoke_subject(self, subject: str, ttl_seconds: int, session: AsyncSession | None = None) -> None:
        """Revoke every token of ``subject`` issued up to now; kept for ``ttl_seconds`` (the longest token life)."""

    async def is_revoked(self, claims: dict[str, Any]) -> bool: ...


def _iat(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(claims["iat"]), UTC)


class RedisRevocations:
    def __init__(self, store: RedisStore) -> None:
        self.store = store

    async def revoke_jti(self, jti: str, expires_at: datetime, session: AsyncSession | None = None) -> None:
        ttl = int((expires_at - utcnow()).total_seconds()) + 60
        if ttl > 0:
            await self.store.set(f"revoked:jti:{jti}", "1", ttl)

    async def revoke_subject(self, subject: str, ttl_seconds: int, session: AsyncSession | None = None) -> None:
        await self.store.set(f"revoked:sub:{subject}", str(int(utcnow().timestamp())), ttl_seconds + 60)

    async def is_revoked(self, claims: dict[str, Any]) -> bool:
        if await self.store.get(f"revoked:jti:{claims['jti']}") is not None:
            return True
        before = await self.store.get(f"revoked:sub:{claims['sub']}")
        return before is not None and int(claims["iat"]) <= int(before)


class _ProcessRevocations:
    """What this process has revoked (committed), so that its own revocations never wait for a cache to expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jti: dict[str, float] = {}  # jti -> when the row expires (epoch seconds)
        self.subjects: dict[str, tuple[datetime, float]] = {}  # subject -> (revoked at, row expiry)

    def add(self, key: str, revoked_at: datetime, expires_at: datetime) -> None:
        with self._lock:
            now = time.time()
            if len(self.jti) + len(self.subjects) > 10_000:  # forget what has expired anyway
                self.jti = {k: e for k, e in self.jti.items() if e > now}
                self.subjects = {k: v for k, v in self.subjects.items() if v[1] > now}
            kind, _, name = key.partition(":")
            if kind == "jti":
                self.jti[name] = expires_at.timestamp()
            else:
                self.subjects[name] = (revoked_at.replace(microsecond=0), expires_at.timestamp())

    def revoked(self, claims: dict[str, Any]) -> bool:
        if str(claims["jti"]) in self.jti:
            return True
        subject = self.subjects.get(str(claims["sub"]))
        return subject is not None and _iat(claims) <= subject[0]


_PROCESS = _ProcessRevocations()


class DatabaseRevocations:
    def __init__(self, db: Database, cache_seconds: float = 0.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._clear: dict[str, float] = {}  # jti -> monotonic time until which "not revoked" is trusted

    async def _put(self, key: str, revoked_at: datetime, expires_at: datetime, session: AsyncSession | None) -> None:
        if session is None:
            async with self.db.transaction() as own:
                await self._put(key, revoked_at, expires_at, own)
            return
        values = {"key": key, "revoked_at": revoked_at, "expires_at": expires_at}
        insert: Any = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(TokenRevocation).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["key"], set_={"revoked_at": revoked_at, "expires_at": expires_at}
        )
        await session.execute(statement)
        # opportunistic clean-up of rows whose tokens have all expired
        await session.execute(delete(TokenRevocation).where(TokenRevocation.expires_at < utcnow()))
        # known to this process as soon as (and only if) the revocation commits
        event.listen(
            session.sync_session, "after_commit", lambda _s: _PROCESS.add(key, revoked_at, expires_at), once=True
        )

    async def revoke_jti(self, jti: str, expires_at: datetime, session: AsyncSession | None = None) -> None:
        await self._put(f"jti:{jti}", utcnow(), expires_at + timedelta(seconds=60), session)

    async def revoke_subject(self, subject: str, ttl_seconds: int, session: AsyncSession | None = None) -> None:
        now = utcnow()
        await self._put(f"sub:{subject}", now, now + timedelta(seconds=ttl_seconds + 60), session)

    async def is_revoked(self, claims: dict[str, Any]) -> bool:
        if _PROCESS.revoked(claims):
            return True
        jti = str(claims["jti"])
        now = time.monotonic()
        if self._clear.get(jti, 0.0) > now:
            return False
        revoked = await self._lookup(claims)
        if not revoked and self.cache_seconds > 0:
            if len(self._clear) > 10_000:
                self._clear = {k: until for k, until in self._clear.items() if until > now}
            self._clear[jti] = now + self.cache_seconds
        return revoked

    async def _lookup(self, claims: dict[str, Any]) -> bool:
        keys = [f"jti:{claims['jti']}", f"sub:{claims['sub']}"]
        async with self.db.sessionmaker() as session:
            rows = (await session.execute(select(TokenRevocation).where(TokenRevocation.key.in_(keys)))).scalars()
            for row in rows:
                if row.key.startswith("jti:"):
                    return True
                if _iat(claims) <= row.revoked_at.replace(microsecond=0):
                    return True
        return False
