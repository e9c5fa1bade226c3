"""The audit log is append-only and tamper-evident: a chained HMAC that concurrent writers cannot fork."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text, update

from core.db import Database
from security.actor import Actor, Role
from security.audit import AuditEvent, record, verify_chain

KEY = b"k" * 32
OFFICER = Actor(id=uuid.uuid4(), role=Role.FIELD_OFFICER, client_address="127.0.0.1")


async def _append(db: Database, n: int) -> None:
    for i in range(n):
        async with db.transaction() as s:
            await record(s, OFFICER, "wearer.read", "wearer", uuid.uuid4(), details={"i": i}, key=KEY)


async def test_an_untouched_chain_verifies(db: Database) -> None:
    await _append(db, 5)
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.intact
    assert report.entries == 5


async def test_an_edited_entry_is_reported_as_the_first_broken_link(db: Database) -> None:
    await _append(db, 5)
    async with db.transaction() as s:
        await s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(outcome="denied"))
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.first_broken_seq == 3
    assert "content" in (report.reason or "")


async def test_a_deleted_entry_and_a_truncated_tail_are_detected(db: Database) -> None:
    await _append(db, 4)
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    async with db.transaction() as s:
        assert (await verify_chain(s, KEY)).first_broken_seq == 4
        await s.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    async with db.transaction() as s:
        assert (await verify_chain(s, KEY)).first_broken_seq == 2


async def test_a_different_key_does_not_verify(db: Database) -> None:
    await _append(db, 2)
    async with db.transaction() as s:
        assert (await verify_chain(s, b"x" * 32)).first_broken_seq == 1


async def test_concurrent_writers_do_not_fork_the_chain(db: Database) -> None:
    async def writer(n: int) -> None:
        for i in range(n):
            async with db.transaction() as s:
                await record(s, OFFICER, "order.write", "order", uuid.uuid4(), details={"i": i}, key=KEY)
                await asyncio.sleep(0)  # let the other writers interleave inside the transaction

    await asyncio.gather(*(writer(5) for _ in range(4)))
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.intact, report
    assert report.entries == 20
