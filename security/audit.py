"""The append-only, tamper-evident audit log.

Every write and every read of personal data calls :func:`record` inside the same transaction as the work it
describes, so an entry exists exactly when the work was committed.

Tamper evidence: each entry's ``hash`` is an HMAC (key ``EMON_SECURITY_AUDIT_HMAC_KEY``) over the previous entry's
hash and the entry's canonical JSON. Appends are serialised through the single ``audit_chain_head`` row: the first
statement of an append updates that row, which holds its row lock (PostgreSQL) or the write lock (SQLite) until the
transaction ends, so two writers can never chain onto the same predecessor and the chain cannot fork. The price is
that audited transactions commit one after another from their first audit entry on; a chain per partition would
lift that if it ever becomes the bottleneck.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base
from security.actor import Actor

GENESIS = "0" * 64


class AuditChainHead(Base):
    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
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
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("audit_chain_head.id"))


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


async def _advance_head(session: AsyncSession) -> tuple[int, str] | None:
    result = await session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.last_hash)
    )
    row = result.one_or_none()
    return (row[0], row[1]) if row else None


async def _create_head(session: AsyncSession) -> None:
    values = {"id": 1, "seq": 0, "last_hash": GENESIS}
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
    """Append one audit entry in the caller's transaction. ``details`` must hold no secrets or images.
    ``client_address`` defaults to the actor's."""
    head = await _advance_head(session)
    if head is None:  # the very first entry: create the head row once, whoever gets there first
        await _create_head(session)
        head = await _advance_head(session)
    assert head is not None
    seq, prev = head
    row = AuditEvent(
        seq=seq,
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
        prev_hash=prev,
        hash="",
        head_id=1,
    )
    row.hash = chain_hash(key, prev, _entry(row))
    session.add(row)
    await session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=row.hash))
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


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken_seq: int | None
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


async def verify_chain(session: AsyncSession, key: bytes, batch: int = 5000) -> ChainReport:
    """Walk the chain in order and report the first entry whose link or content does not verify."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            count += 1
            if row.seq != expected_seq:
                return ChainReport(count, expected_seq, f"entry {expected_seq} is missing")
            if row.prev_hash != prev:
                return ChainReport(count, row.seq, "link to the previous entry does not match")
            if not hmac.compare_digest(row.hash, chain_hash(key, prev, _entry(row))):
                return ChainReport(count, row.seq, "entry content does not match its hash")
            prev = row.hash
            expected_seq += 1
            last_seq = row.seq
    head = (await session.execute(select(AuditChainHead).where(AuditChainHead.id == 1))).scalar_one_or_none()
    if head is not None and (head.seq != last_seq or head.last_hash != prev):
        return ChainReport(count, last_seq + 1, "entries after the last one were removed")
    return ChainReport(count, None, None)
