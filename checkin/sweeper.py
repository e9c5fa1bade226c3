"""Missed check-ins: prompts whose response window has passed become MISSED and raise one caseworker alert each.

Set-based and safe with several instances sweeping at once:

- PostgreSQL: one statement per batch. ``UPDATE ... WHERE id IN (SELECT id ... FOR UPDATE SKIP LOCKED LIMIT n)
  RETURNING`` marks the batch (a concurrent sweeper skips rows another holds, and the ``status = 'PENDING'``
  condition is re-checked on the locked row, so no prompt is marked twice), and a data-modifying CTE inserts the
  alerts from the returned ids in the same statement.
- SQLite (one writer at a time): ``UPDATE ... RETURNING`` for the batch, then one multi-row INSERT of the alerts in
  the same transaction.

An alert's key is its prompt's id, so a prompt can never be alerted twice either: a second alert would fail the
batch's transaction, which rolls back whole (no ``ON CONFLICT`` clause: speculative insertion cost a third of the
sweep's time, and only the transition out of PENDING, which happens once, ever inserts an alert). The batch is
picked from a partial index of open prompts in expiry order, so each batch reads only the rows it marks, however long
the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from checkin.vocab import AlertKind, AlertStatus, CheckinReason, CheckinStatus, PromptStatus
from core.clock import utcnow
from core.db import Database
from core.settings import Settings

log = structlog.stdlib.get_logger("emon.checkin.sweeper")
BATCH = 50_000
_REASONS = json.dumps([CheckinReason.MISSED.value])

_PG_SWEEP = text(
    """
    WITH expired AS (
        UPDATE checkin_prompts SET status = :missed, missed_at = :now
        WHERE id = ANY(ARRAY(
            SELECT id FROM checkin_prompts
            WHERE status = :pending AND expires_at <= :now
            ORDER BY expires_at
            LIMIT :batch
            FOR UPDATE SKIP LOCKED
        )) AND status = :pending
        RETURNING id
    ), alerted AS (
        INSERT INTO checkin_alerts (prompt_id, checkin_id, kind, reasons, status, created_at)
        SELECT id, NULL, :kind, CAST(:reasons AS JSON), :open, :now FROM expired
        RETURNING prompt_id
    )
    SELECT (SELECT count(*) FROM expired) AS marked, (SELECT count(*) FROM alerted) AS alerted
    """
)

_SQLITE_MARK = text(
    """
    UPDATE checkin_prompts SET status = :missed, missed_at = :now
    WHERE id IN (
        SELECT id FROM checkin_prompts WHERE status = :pending AND expires_at <= :now ORDER BY expires_at LIMIT :batch
    )
    RETURNING id
    """
)

_SQLITE_ALERT = text(
    """
    INSERT INTO checkin_alerts (prompt_id, checkin_id, kind, reasons, status, created_at)
    VALUES (:id, NULL, :kind, :reasons, :open, :now)
    """
)


@dataclass
class SweepResult:
    marked: int = 0
    alerted: int = 0


def _params(now: datetime, batch: int, dialect: str) -> dict[str, object]:
    # SQLite stores naive UTC (see core.db.UTCDateTime); PostgreSQL takes the aware value.
    stamp = now.replace(tzinfo=None) if dialect == "sqlite" else now
    return {
        "missed": PromptStatus.MISSED.value,
        "pending": PromptStatus.PENDING.value,
        "now": stamp,
        "batch": batch,
        "kind": AlertKind.MISSED.value,
        "reasons": _REASONS,
        "open": AlertStatus.OPEN.value,
    }


async def sweep_batch(session: AsyncSession, now: datetime, batch: int = BATCH) -> SweepResult:
    """Mark one batch of expired prompts MISSED and alert them, in the caller's transaction."""
    dialect = session.get_bind().dialect.name
    params = _params(now, batch, dialect)
    if dialect == "postgresql":
        # Losing a sweep's commit in a crash is harmless (the prompts are swept again), so don't wait for the disk.
        await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        row = (await session.execute(_PG_SWEEP, params)).one()
        return SweepResult(marked=int(row.marked), alerted=int(row.alerted))
    rows = (await session.execute(_SQLITE_MARK, params)).all()
    if not rows:
        return SweepResult()
    # uuid columns are stored as 32 hex characters on SQLite: the RETURNING values go straight back in
    await session.execute(_SQLITE_ALERT, [{**params, "id": r.id} for r in rows])
    return SweepResult(marked=len(rows), alerted=len(rows))


async def _drain(db: Database, now: datetime, batch: int, total: SweepResult) -> None:
    while True:
        async with db.transaction() as session:
            result = await sweep_batch(session, now, batch)
        total.marked += result.marked
        total.alerted += result.alerted
        if result.marked < batch:
            return


async def sweep(db: Database, now: datetime | None = None, batch: int = BATCH, lanes: int | None = None) -> SweepResult:
    """One full pass: batches in their own transactions until nothing expired is left.

    On PostgreSQL ``lanes`` connections (default 2) sweep side by side, exactly as separate instances would: SKIP
    LOCKED gives each its own rows. SQLite has one writer, so one lane.
    """
    total = SweepResult()
    now = now or utcnow()
    if db.dialect != "postgresql":
        lanes = 1
    await asyncio.gather(*(_drain(db, now, batch, total) for _ in range(lanes or 2)))
    return total


#: A check-in still PROCESSING this long after it arrived lost its verification with the instance that ran it
#: (a request waits at most 30 s before answering 202; verification takes seconds).
INTERRUPTED_AFTER = timedelta(minutes=5)


async def recover_interrupted(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Refer every check-in whose verification was lost (its instance died after accepting it, so its nonce is
    spent and nobody will decide it): REFERRED with ``VERIFICATION_INTERRUPTED`` and a caseworker alert, as any
    failed verification is. Safe with several instances: each check-in is claimed under a row lock (SKIP LOCKED on
    PostgreSQL) and only while it is still PROCESSING."""
    from checkin.models import Checkin
    from checkin.service import Accepted, Ctx, fail_verification
    from security.actor import SYSTEM

    cutoff = (now or utcnow()) - INTERRUPTED_AFTER
    recovered = 0
    async with db.transaction() as session:
        query = (
            select(Checkin)
            .where(Checkin.status == CheckinStatus.PROCESSING.value, Checkin.received_at <= cutoff)
            .order_by(Checkin.received_at)
            .limit(500)
        )
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for checkin in (await session.execute(query)).scalars().all():
            accepted = Accepted(
                checkin_id=checkin.id,
                prompt_id=checkin.prompt_id,
                wearer_id=checkin.wearer_id,
                received_at=checkin.received_at,
                frames=[],
                references=[],
                previous=[],
                challenge=None,
                extra_reasons=["VERIFICATION_INTERRUPTED"],
            )
            await fail_verification(Ctx(session, SYSTEM, settings), accepted, "verification interrupted")
            recovered += 1
    if recovered:
        log.warning("interrupted check-ins referred", count=recovered)
    return recovered


async def run_forever(db: Database, settings: Settings, stop: asyncio.Event) -> None:
    """The background loop every instance runs: sweep, and create the day's scheduled prompts, each interval."""
    from checkin.scheduler import schedule_days

    interval = max(1, settings.checkin.sweep_interval_seconds)
    scheduled_on = None
    while not stop.is_set():
        try:
            async with asyncio.timeout(interval * 4):
                result = await sweep(db)
                await recover_interrupted(db, settings)
                if result.marked:
                    log.info("missed check-ins swept", marked=result.marked, alerted=result.alerted)
                today = utcnow().date()
                if scheduled_on != today:
                    await schedule_days(db, settings, today)
                    scheduled_on = today
        except Exception as exc:  # the loop must survive a database hiccup; the next pass retries
            log.warning("check-in background pass failed", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
