"""Offline-first sync: a batch of operations queued on an officer's phone, applied one by one.

- Idempotent: each operation's result is kept in ``sync_operations`` keyed by (officer, client op id), in the same
  transaction as its effect. A replay (the whole batch or one operation, on any instance, after any restart) returns
  the stored result and changes nothing; two concurrent copies meet at the unique constraint and the loser replays.
- Optimistic: each operation names the version of the record it was based on; a stale one is a CONFLICT carrying the
  record's current state, never a silent overwrite.
- Isolated: each operation runs in its own SAVEPOINT, so one bad operation does not sink the batch.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from core.db import Database, begin_as_writer
from core.errors import Conflict, DomainError, NotFound, ValidationFailed
from core.settings import Settings
from fieldwork.models import SyncOperation
from fieldwork.schemas import FailedVisitOp, FittingOp, Operation, OperationResult, RemovalOp, StockMoveOp, SyncOut
from fieldwork.service import Ctx
from fieldwork.stock import device_by_serial, stock_move
from fieldwork.visits import record_failed_visit, record_fitting, record_removal
from security.actor import Actor

TYPE_BASE = "https://emon.example/problems/"  # the same problem types the API answers with


def _kind(op: Operation) -> str:
    return type(op).__struct_config__.tag  # type: ignore[return-value]


def _hash(op: Operation) -> str:
    return hashlib.sha256(msgspec.json.encode(op)).hexdigest()


async def _apply(ctx: Ctx, op: Operation) -> Any:
    if isinstance(op, FittingOp):
        return await record_fitting(ctx, op.job_id, op.fitting)
    if isinstance(op, RemovalOp):
        return await record_removal(ctx, op.job_id, op.removal)
    if isinstance(op, FailedVisitOp):
        return await record_failed_visit(ctx, op.job_id, op.visit)
    assert isinstance(op, StockMoveOp)
    device = await device_by_serial(ctx, op.serial)
    if device is None:
        raise NotFound(f"no device {op.serial} in your stock")
    return await stock_move(ctx, device, op.move)


def _failure(op: Operation, exc: DomainError) -> OperationResult:
    problem: dict[str, Any] = {
        "type": TYPE_BASE + exc.type_slug,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if exc.code:
        problem["code"] = exc.code
    if isinstance(exc, ValidationFailed):
        problem["errors"] = exc.errors
    extra = {k: v for k, v in exc.extra.items() if k != "current"}
    problem.update(extra)
    return OperationResult(
        op_id=op.op_id,
        kind=_kind(op),
        outcome="CONFLICT" if isinstance(exc, Conflict) else "REJECTED",
        status=exc.status,
        problem=problem,
        current=exc.extra.get("current"),
    )


async def _stored(ctx: Ctx, op: Operation) -> SyncOperation | None:
    statement = select(SyncOperation).where(
        SyncOperation.officer_id == ctx.actor.id, SyncOperation.client_op_id == op.op_id
    )
    return (await ctx.session.execute(statement)).scalar_one_or_none()


def _replay(op: Operation, stored: SyncOperation, request_hash: str) -> OperationResult:
    if stored.request_hash != request_hash:
        return OperationResult(
            op_id=op.op_id,
            kind=_kind(op),
            outcome="REJECTED",
            status=409,
            problem={
                "type": TYPE_BASE + "conflict",
                "title": "Conflict",
                "status": 409,
                "detail": "this operation id was already used for a different operation",
                "code": "op-id-reused",
            },
        )
    result = msgspec.convert(stored.result, OperationResult)
    result.replayed = True
    return result


def _ledger_row(ctx: Ctx, op: Operation, request_hash: str, result: OperationResult) -> SyncOperation:
    """The idempotency ledger entry that makes a replay of ``op`` answer ``result`` again."""
    return SyncOperation(
        officer_id=ctx.actor.id,
        client_op_id=op.op_id,
        kind=_kind(op),
        request_hash=request_hash,
        result=msgspec.to_builtins(result),
    )


async def _remember(ctx: Ctx, op: Operation, request_hash: str, result: OperationResult) -> OperationResult:
    """Store a failure's result in its own savepoint; a concurrent twin that stored first wins."""
    savepoint = await ctx.session.begin_nested()
    try:
        ctx.session.add(_ledger_row(ctx, op, request_hash, result))
        await ctx.session.flush()
        await ctx.audit(
            "sync.operation",
            "sync",
            str(op.op_id),
            outcome=result.outcome.lower(),
            details={"kind": result.kind, "status": result.status},
        )
        await savepoint.commit()
    except IntegrityError:
        await savepoint.rollback()
        stored = await _stored(ctx, op)
        if stored is not None:
            return _replay(op, stored, request_hash)
        raise
    return result


async def run_operation(ctx: Ctx, op: Operation, request_hash: str) -> OperationResult:
    """Apply one operation in its own savepoint and record its result in the ledger, in the same savepoint.

    The ledger row goes in last: if a concurrent copy of this operation committed first, the insert meets the unique
    constraint (after waiting for that copy's transaction), the savepoint rolls back whatever this copy did, and the
    stored result is returned instead.
    """
    savepoint = await ctx.session.begin_nested()
    try:
        applied = await _apply(ctx, op)
        result = OperationResult(
            op_id=op.op_id, kind=_kind(op), outcome="APPLIED", status=200, result=msgspec.to_builtins(applied)
        )
        ctx.session.add(_ledger_row(ctx, op, request_hash, result))
        await ctx.session.flush()
        await savepoint.commit()
        return result
    except IntegrityError:
        await savepoint.rollback()
        stored = await _stored(ctx, op)
        if stored is None:
            raise
        return _replay(op, stored, request_hash)
    except StaleDataError:
        await savepoint.rollback()
        failure = _failure(op, Conflict("the record was changed by someone else meanwhile", code="stale"))
    except DomainError as exc:
        await savepoint.rollback()
        failure = _failure(op, exc)
    return await _remember(ctx, op, request_hash, failure)


async def _already_done(ctx: Ctx, operations: list[Operation]) -> dict[uuid.UUID, SyncOperation]:
    """The ledger rows of this batch's operations, fetched in one query (a replay then touches nothing else)."""
    ids = list({op.op_id for op in operations})
    done: dict[uuid.UUID, SyncOperation] = {}
    for start in range(0, len(ids), 500):
        statement = select(SyncOperation).where(
            SyncOperation.officer_id == ctx.actor.id, SyncOperation.client_op_id.in_(ids[start : start + 500])
        )
        done.update((row.client_op_id, row) for row in (await ctx.session.execute(statement)).scalars())
    return done


async def _run_operations(ctx: Ctx, operations: list[Operation]) -> list[OperationResult]:
    done = await _already_done(ctx, operations)
    results: list[OperationResult] = []
    for op in operations:
        request_hash = _hash(op)
        stored = done.get(op.op_id)
        if stored is not None:
            results.append(_replay(op, stored, request_hash))
            continue
        results.append(await run_operation(ctx, op, request_hash))
        # Everything of this operation is flushed; letting go of it keeps the session's identity map small, which
        # keeps every later statement of a long batch as cheap as the first (ORM bulk updates scan that map).
        ctx.session.expunge_all()
    return results


def _summary(results: list[OperationResult]) -> SyncOut:
    counts = {"APPLIED": 0, "CONFLICT": 0, "REJECTED": 0}
    replayed = 0
    for result in results:
        counts[result.outcome] += 1
        replayed += result.replayed
    return SyncOut(
        results=results,
        applied=counts["APPLIED"],
        conflicts=counts["CONFLICT"],
        rejected=counts["REJECTED"],
        replayed=replayed,
    )


async def _audit_batch(ctx: Ctx, out: SyncOut) -> None:
    details = {
        "operations": len(out.results),
        "applied": out.applied,
        "conflicts": out.conflicts,
        "rejected": out.rejected,
        "replayed": out.replayed,
    }
    await ctx.audit("sync.batch", "sync", None, details=details)


async def run_batch(ctx: Ctx, operations: list[Operation]) -> SyncOut:
    """Apply a batch inside the caller's transaction."""
    out = _summary(await _run_operations(ctx, operations))
    await _audit_batch(ctx, out)
    return out


async def run_batch_committing(db: Database, actor: Actor, settings: Settings, operations: list[Operation]) -> SyncOut:
    """Apply a batch in transactions of ``EMON_FIELDWORK_SYNC_OPS_PER_COMMIT`` operations each.

    Operations are independent, and each one's ledger row commits with its effect, so committing as we go loses
    nothing: after a failure part-way, a retry replays what was committed and applies the rest. It keeps a long
    batch from holding SQLite's write lock for its whole duration, and lets its audit entries be sealed as it goes
    (a transaction longer than the seal delay would have its entries sealed after those other requests wrote
    meanwhile).
    """
    results: list[OperationResult] = []
    step = max(1, settings.fieldwork.sync_ops_per_commit)
    for start in range(0, len(operations), step):
        async with db.transaction() as session:
            await begin_as_writer(session)  # SQLite: its operations read in savepoints before they write
            ctx = Ctx(session=session, actor=actor, settings=settings)
            results.extend(await _run_operations(ctx, operations[start : start + step]))
    out = _summary(results)
    async with db.transaction() as session:
        await _audit_batch(Ctx(session=session, actor=actor, settings=settings), out)
    return out
