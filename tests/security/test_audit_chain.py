"""The audit log is append-only and tamper-evident: writers insert without waiting for one another, and a sealer
chains the entries with an HMAC that concurrent sealers cannot fork."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from core.clock import set_clock
from core.db import Database
from security.actor import Actor, Role
from security.audit import AuditEvent, record, seal, verify_chain
from security.sealer import seal_pending

KEY = b"k" * 32
OFFICER = Actor(id=uuid.uuid4(), role=Role.FIELD_OFFICER, client_address="127.0.0.1")


async def _append(db: Database, n: int) -> None:
    for i in range(n):
        async with db.transaction() as s:
            await record(s, OFFICER, "wearer.read", "wearer", uuid.uuid4(), details={"i": i}, key=KEY)


async def _seal(db: Database, settle_seconds: float = 60) -> int:
    return await seal_pending(db, KEY, settle_seconds)


async def _sealed(db: Database) -> list[tuple[int, int | None, str]]:
    """(insertion id, seq, details) of every entry, by insertion id."""
    async with db.transaction() as s:
        rows = (await s.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars().all()
    return [(r.id, r.seq, r.details) for r in rows]


async def test_an_untouched_chain_verifies(db: Database) -> None:
    await _append(db, 5)
    async with db.transaction() as s:
        unsealed = await verify_chain(s, KEY)
    assert (unsealed.intact, unsealed.entries, unsealed.unsealed) == (True, 0, 5)
    assert await _seal(db) == 5
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.intact
    assert (report.entries, report.unsealed) == (5, 0)


async def test_an_edited_entry_is_reported_as_the_first_broken_link(db: Database) -> None:
    await _append(db, 5)
    await _seal(db)
    async with db.transaction() as s:
        await s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(outcome="denied"))
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.first_broken_seq == 3
    assert "content" in (report.reason or "")


async def test_a_deleted_entry_and_a_truncated_tail_are_detected(db: Database) -> None:
    await _append(db, 4)
    await _seal(db)
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    async with db.transaction() as s:
        assert (await verify_chain(s, KEY)).first_broken_seq == 4
        await s.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    async with db.transaction() as s:
        assert (await verify_chain(s, KEY)).first_broken_seq == 2


async def test_a_different_key_does_not_verify(db: Database) -> None:
    await _append(db, 2)
    await _seal(db)
    async with db.transaction() as s:
        assert (await verify_chain(s, b"x" * 32)).first_broken_seq == 1


async def test_a_tampered_entry_stays_detected_after_later_entries_are_sealed(db: Database) -> None:
    await _append(db, 3)
    await _seal(db)
    async with db.transaction() as s:
        await s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(details='{"i": 99}'))
    await _append(db, 3)
    await _seal(db)
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert (report.first_broken_seq, report.entries) == (2, 2)


async def test_concurrent_writers_do_not_fork_the_chain(db: Database) -> None:
    async def writer(n: int) -> None:
        for i in range(n):
            async with db.transaction() as s:
                await record(s, OFFICER, "order.write", "order", uuid.uuid4(), details={"i": i}, key=KEY)
                await asyncio.sleep(0)  # let the other writers interleave inside the transaction

    async def sealer() -> None:
        for _ in range(10):
            await _seal(db, settle_seconds=0)
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(5) for _ in range(4)), sealer(), sealer())
    await _seal(db, settle_seconds=0)
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.intact, report
    assert (report.entries, report.unsealed) == (20, 0)


async def test_entries_committed_out_of_order_are_sealed_in_id_order(db: Database, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: insertion ids commit in order")
    early = db.sessionmaker()
    await early.begin()
    try:
        await record(early, OFFICER, "wearer.read", "wearer", details={"n": "early"}, key=KEY)  # takes the lower id
        async with db.transaction() as s:
            await record(s, OFFICER, "wearer.read", "wearer", details={"n": "late"}, key=KEY)
        assert await _seal(db) == 0  # the gap before the later entry is younger than the settle delay: wait
        await early.commit()
    finally:
        await early.close()
    assert await _seal(db) == 2
    rows = await _sealed(db)
    assert [(seq, details) for _, seq, details in rows] == [(1, '{"n": "early"}'), (2, '{"n": "late"}')]
    async with db.transaction() as s:
        assert (await verify_chain(s, KEY)).intact


async def test_a_transaction_outliving_the_settle_delay_is_sealed_late_not_lost(db: Database, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: insertion ids commit in order")
    slow = db.sessionmaker()
    await slow.begin()
    try:
        await record(slow, OFFICER, "sync.apply", "job", details={"n": "slow"}, key=KEY)
        await _append(db, 2)
        later = datetime.now(UTC) + timedelta(seconds=120)
        set_clock(lambda: later)
        try:
            assert await _seal(db) == 2  # the gap is old now: sealed past it
        finally:
            set_clock(None)
        await slow.commit()
    finally:
        await slow.close()
    assert await _seal(db) == 1
    rows = await _sealed(db)
    assert [seq for _, seq, _ in rows] == [3, 1, 2]  # the slow one is chained after the others, with no gap in seq
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.intact
    assert report.entries == 3
    assert report.unsealed == 0


async def test_rolled_back_entries_leave_no_trace_and_do_not_block_sealing(db: Database) -> None:
    async def failing_work() -> None:
        async with db.transaction() as s:
            await record(s, OFFICER, "wearer.read", "wearer", details={"n": "gone"}, key=KEY)
            raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError):
        await failing_work()
    await _append(db, 2)
    later = datetime.now(UTC) + timedelta(seconds=120)
    set_clock(lambda: later)
    try:
        assert await _seal(db) == 2
    finally:
        set_clock(None)
    rows = await _sealed(db)
    assert [seq for _, seq, _ in rows] == [1, 2]
    assert all("gone" not in details for _, _, details in rows)
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.intact
    assert report.entries == 2


async def test_two_sealers_racing_on_postgres_keep_one_chain(db: Database, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("needs two concurrent connections holding row locks")
    await _append(db, 30)
    first, second = db.sessionmaker(), db.sessionmaker()
    try:
        await first.begin()
        await second.begin()
        assert await seal(first, KEY, settle_seconds=0, batch=10) == 10
        racing = asyncio.create_task(seal(second, KEY, settle_seconds=0, batch=10))
        await asyncio.sleep(0.2)
        assert not racing.done()  # waits on the chain head's row lock
        await first.commit()
        assert await racing == 10  # and then chains on after the first sealer's entries
        await second.commit()
    finally:
        await first.close()
        await second.close()
    await _seal(db, settle_seconds=0)
    rows = await _sealed(db)
    assert sorted(seq for _, seq, _ in rows if seq is not None) == list(range(1, 31))
    assert [seq for _, seq, _ in rows] == list(range(1, 31))
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.intact
    assert report.entries == 30


async def test_a_deleted_chain_head_is_detected(db: Database) -> None:
    await _append(db, 2)
    await _seal(db)
    async with db.transaction() as s:
        await s.execute(text("UPDATE audit_events SET head_id = NULL"))
        await s.execute(text("DELETE FROM audit_chain_head"))
    async with db.transaction() as s:
        report = await verify_chain(s, KEY)
    assert report.first_broken_seq == 3
    assert "head" in (report.reason or "")
