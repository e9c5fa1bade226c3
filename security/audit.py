"""The append-only, tamper-evident audit log.

Every write and every read of personal data calls :func:`record` inside the same transaction as the work it
describes, so an entry exists exactly when the work was committed.

Writing is a plain INSERT. An entry is born *unsealed*: it gets an insertion ``id`` from the database's own
autoincrement (no lock shared between requests) and no ``seq``, ``prev_hash``, ``hash`` or ``head_id`` yet.
Audited requests therefore run side by side instead of queueing on one row.

Sealing makes entries tamper-evident. :func:`seal` (run every ``EMON_SECURITY_AUDIT_SEAL_INTERVAL_SECONDS`` by a
background task in every app instance, see :mod:`security.sealer`, and by ``emon audit seal``) takes the single
``audit_chain_head`` row lock (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite an UPDATE first, which takes the
write lock), then gives unsealed entries, in ``id`` order, the next dense ``seq`` and the HMAC (key
``EMON_SECURITY_AUDIT_HMAC_KEY``) over the previous entry's hash and the entry's canonical JSON, and moves the head,
all in one transaction. Several sealers take turns on the head row, so the chain never forks.

Insertion ids may commit out of order (a transaction that took id 6 may still be running when the one that took
id 7 commits) and rolled-back transactions leave gaps. The sealer seals an entry straight away when every smaller id
has been dealt with; past a gap it waits until the entry after the gap is older than the settle delay
(``EMON_SECURITY_AUDIT_SEAL_DELAY_SECONDS``, default 2 s), then treats the gap as rolled back. An entry whose
transaction commits after its gap was passed over (a transaction that outlived the settle delay) is sealed on the
next pass, after entries with higher ids: it is late, never lost. ``emon audit verify`` reports how many entries are
still unsealed.

Trade-off: an entry becomes tamper-evident within about one seal interval (plus the settle delay behind a gap), not
at commit. Until it is sealed, someone with write access to the database could alter or delete it without the
chain showing it. The entries in the chain, and the head, are as protected as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base
from security.actor import Actor

GENESIS = "0" * 64
SEAL_BATCH = 1000


class AuditChainHead(Base):
    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    # the highest insertion id sealed so far: an unsealed entry at or below it is late (see the module docstring)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class AuditEvent(Base):
    __tablename__ = "audit_events"

    # Insertion order, from the database's autoincrement (SQLite needs INTEGER for its rowid alias).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # NULL until sealed
    at: Mapped[datetime]
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(80), index=True)
    resource_type: Mapped[str] = mapped_column(String(80))
    resource_id: Mapped[str | None] = mapped_column(String(80), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str | None] = mapped_column(String(64))  # NULL until sealed
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # NULL until sealed
    head_id: Mapped[int | None] = mapped_column(ForeignKey("audit_chain_head.id"))  # the chain; NULL until sealed


def _canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()


def _entry(row: AuditEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": row.at.isoformat(),
        "actor_id": str(row.actor_id) if row.actor_id else None,
        "actor_role": row.actor_role,
        "action": row.action,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "outcome": row.outcome,
        "client_address": row.client_address,
        "request_id": row.request_id,
        "details": row.details,
    }


def chain_hash(key: bytes, prev_hash: str, entry: dict[str, Any]) -> str:
    return hmac.new(key, prev_hash.encode() + _canonical(entry), hashlib.sha256).hexdigest()


async def _ensure_head(session: AsyncSession) -> None:
    values = {"id": 1, "seq": 0, "last_hash": GENESIS, "last_id": 0}
    if session.get_bind().dialect.name == "postgresql":
        statement: Any = pg_insert(AuditChainHead).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite_insert(AuditChainHead).values(values).on_conflict_do_nothing()
    await session.execute(statement)


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str | None = None,
    *,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    key: bytes,
    request_id: str | None = None,
    client_address: str | None = None,
) -> AuditEvent:
    """Add one (unsealed) audit entry to the caller's transaction: it commits with the caller's work or not at all.
    ``details`` must hold no secrets or images. ``client_address`` defaults to the actor's. ``key`` is the chain
    key; the entry is chained with it by the sealer, so it is not used here."""
    del key  # kept in the signature: callers need not know when the chain is computed
    row = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_role=actor.role.value if actor else "anonymous",
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        outcome=outcome,
        client_address=client_address or (actor.client_address if actor else None),
        request_id=request_id,
        details=json.dumps(details or {}, sort_keys=True, default=str),
    )
    session.add(row)
    await session.flush()  # take the insertion id now, close to ``at``, which the sealer uses to age a gap
    return row


async def record_request(
    session: AsyncSession,
    request: Any,
    actor: Actor | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str | None = None,
    *,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """:func:`record` for a request handler: the key from settings, the request id and the client address (behind
    trusted proxies only) from the request. An anonymous caller is recorded with its address."""
    from security.clientaddr import client_address

    settings = request.app.state.settings
    address = client_address(request.scope, settings.http.trusted_proxies)
    request_id = request.scope.get("state", {}).get("request_id")
    event = await record(
        session,
        actor,
        action,
        resource_type,
        resource_id,
        outcome=outcome,
        details=details,
        key=settings.security.audit_hmac_key.encode(),
        request_id=request_id,
        client_address=address,
    )
    return event


async def _lock_head(session: AsyncSession) -> tuple[int, str, int]:
    """The head (seq, last hash, last sealed id), locked until the caller's transaction ends."""
    postgres = session.get_bind().dialect.name == "postgresql"
    columns = (AuditChainHead.seq, AuditChainHead.last_hash, AuditChainHead.last_id)
    for _ in range(2):
        if postgres:
            statement: Any = select(*columns).where(AuditChainHead.id == 1).with_for_update()
        else:  # SQLite has no row locks: a first write takes the database's write lock for the transaction
            statement = update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=AuditChainHead.seq)
            statement = statement.returning(*columns)
        row = (await session.execute(statement)).one_or_none()
        if row is not None:
            return int(row[0]), str(row[1]), int(row[2])
        await _ensure_head(session)  # the very first seal: create the head row once, whoever gets there first
    raise RuntimeError("the audit chain head row could not be created")


async def seal(session: AsyncSession, key: bytes, *, settle_seconds: float, batch: int = SEAL_BATCH) -> int:
    """Seal up to ``batch`` unsealed entries in the caller's transaction, holding the chain head's lock; return how
    many were sealed. Entries are taken in insertion-id order; a gap in the ids (a transaction still running, or
    rolled back) stops the pass until the entry after it is older than ``settle_seconds``."""
    seq, prev, last_id = await _lock_head(session)
    rows = (
        (
            await session.execute(
                select(AuditEvent)
                .where(AuditEvent.seq.is_(None))
                .order_by(AuditEvent.id)
                .limit(batch)
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    settled_before = utcnow() - timedelta(seconds=settle_seconds)
    sealed = 0
    for row in rows:
        if row.id > last_id:
            if row.id != last_id + 1 and row.at > settled_before:
                break  # a smaller id may still commit: wait until the gap is older than the settle delay
            last_id = row.id
        # else: late, its transaction outlived the settle delay after later entries were sealed; chain it now
        seq += 1
        row.seq = seq
        row.head_id = 1
        row.prev_hash = prev
        row.hash = prev = chain_hash(key, prev, _entry(row))
        sealed += 1
    if sealed:
        await session.flush()
        await session.execute(
            update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=seq, last_hash=prev, last_id=last_id)
        )
    return sealed


async def unsealed_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).where(AuditEvent.seq.is_(None)))).scalar_one())


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken_seq: int | None
    reason: str | None
    unsealed: int = 0  # entries not yet chained (committed within the last seconds, or a sealer is not running)

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


async def verify_chain(session: AsyncSession, key: bytes, batch: int = 5000) -> ChainReport:
    """Walk the sealed chain in ``seq`` order and report the first entry whose link or content does not verify, or
    a head that does not match the last entry. Unsealed entries are counted, not verified."""
    unsealed = await unsealed_count(session)
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0

    async def walk() -> ChainReport | None:
        nonlocal prev, expected_seq, count, last_seq
        while True:
            rows = (
                (
                    await session.execute(
                        select(AuditEvent)
                        .where(AuditEvent.seq > last_seq)
                        .order_by(AuditEvent.seq)
                        .limit(batch)
                        .execution_options(populate_existing=True)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return None
            for row in rows:
                count += 1
                if row.seq != expected_seq:
                    return ChainReport(count, expected_seq, f"entry {expected_seq} is missing", unsealed)
                if row.prev_hash != prev:
                    return ChainReport(count, row.seq, "link to the previous entry does not match", unsealed)
                if row.hash is None or not hmac.compare_digest(row.hash, chain_hash(key, prev, _entry(row))):
                    return ChainReport(count, row.seq, "entry content does not match its hash", unsealed)
                prev = row.hash
                expected_seq += 1
                last_seq = row.seq

    head_statement = select(AuditChainHead.seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    for attempt in range(3):
        broken = await walk()
        if broken is not None:
            return broken
        head = (await session.execute(head_statement)).one_or_none()
        if head is None:
            if last_seq:  # sealing always writes the head: sealed entries without one mean it was deleted
                return ChainReport(count, last_seq + 1, "the chain head is missing", unsealed)
            return ChainReport(count, None, None, unsealed)
        if head[0] == last_seq and head[1] == prev:
            return ChainReport(count, None, None, unsealed)
        if head[0] > last_seq and attempt < 2:
            continue  # a sealer committed more entries while we walked: walk on from where we stopped
        break
    return ChainReport(count, last_seq + 1, "entries after the last one were removed", unsealed)
