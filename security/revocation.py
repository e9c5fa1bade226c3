"""Access-token revocation: one token by ``jti``, or every token of a subject (account or device) issued so far.

Redis holds revocations when configured (shared by every instance, expiring with the tokens they name); otherwise
the ``token_revocations`` table does. Checked by the authentication middleware on every request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select
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


class DatabaseRevocations:
    def __init__(self, db: Database) -> None:
        self.db = db

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

    async def revoke_jti(self, jti: str, expires_at: datetime, session: AsyncSession | None = None) -> None:
        await self._put(f"jti:{jti}", utcnow(), expires_at + timedelta(seconds=60), session)

    async def revoke_subject(self, subject: str, ttl_seconds: int, session: AsyncSession | None = None) -> None:
        now = utcnow()
        await self._put(f"sub:{subject}", now, now + timedelta(seconds=ttl_seconds + 60), session)

    async def is_revoked(self, claims: dict[str, Any]) -> bool:
        keys = [f"jti:{claims['jti']}", f"sub:{claims['sub']}"]
        async with self.db.sessionmaker() as session:
            rows = (await session.execute(select(TokenRevocation).where(TokenRevocation.key.in_(keys)))).scalars()
            for row in rows:
                if row.key.startswith("jti:"):
                    return True
                if _iat(claims) <= row.revoked_at.replace(microsecond=0):
                    return True
        return False
