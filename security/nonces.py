"""One-time nonces of signed device requests: a nonce is accepted once per device while its timestamp could still be
accepted, and never again. Redis ``SET NX EX`` when configured, else a table whose primary key refuses a replay."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from core.clock import utcnow
from core.db import Database
from security.models import DeviceNonce
from security.stores import RedisStore


class Nonces(Protocol):
    async def claim(self, device_id: uuid.UUID, nonce: str, ttl_seconds: int) -> bool:
        """``True`` the first time ``nonce`` is seen for the device, ``False`` for a replay."""


class RedisNonces:
    def __init__(self, store: RedisStore) -> None:
        self.store = store

    async def claim(self, device_id: uuid.UUID, nonce: str, ttl_seconds: int) -> bool:
        return await self.store.set_nx(f"nonce:{device_id}:{nonce}", "1", ttl_seconds)


class DatabaseNonces:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._claims = 0

    async def claim(self, device_id: uuid.UUID, nonce: str, ttl_seconds: int) -> bool:
        now = utcnow()
        try:
            async with self.db.transaction() as session:
                session.add(
                    DeviceNonce(device_id=device_id, nonce=nonce, expires_at=now + timedelta(seconds=ttl_seconds))
                )
        except IntegrityError:
            return False
        self._claims += 1
        if self._claims % 500 == 0:  # expired nonces can never be accepted again (their timestamps are stale)
            async with self.db.transaction() as session:
                await session.execute(delete(DeviceNonce).where(DeviceNonce.expires_at < now))
        return True
