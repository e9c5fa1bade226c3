"""The audit sealer: a background task in every app instance that chains unsealed audit entries.

Each pass seals in batches (one short transaction each, holding the chain head's lock) until nothing more is ready;
instances take turns on the head row. A failing pass is logged and retried at the next interval: entries wait
unsealed, requests are never affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.db import Database
from core.settings import Settings
from security.audit import SEAL_BATCH, seal

log = logging.getLogger(__name__)


async def seal_pending(db: Database, key: bytes, settle_seconds: float, batch: int = SEAL_BATCH) -> int:
    """Seal every entry that is ready, a batch per transaction; return how many were sealed."""
    total = 0
    while True:
        async with db.transaction() as session:
            sealed = await seal(session, key, settle_seconds=settle_seconds, batch=batch)
        total += sealed
        if sealed < batch:
            return total


class AuditSealer:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.key = settings.security.audit_hmac_key.encode()
        self.interval = float(settings.security.audit_seal_interval_seconds)
        self.settle = float(settings.security.audit_seal_delay_seconds)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="audit-sealer")

    async def stop(self, within: float = 10.0) -> None:
        """Let a pass in progress finish (cancelling it mid-transaction could leave SQLite's write lock with a
        connection that is never given back), then end; cancel only if it does not finish ``within`` seconds."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), within)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await seal_pending(self.db, self.key, self.settle)
            except Exception:  # the database may be briefly away; entries wait and the next pass catches up
                log.exception("audit sealing pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
