"""Data at rest: reads the database through a small registry of tables and columns that the other packages fill in.

Every query is read-only and bounded (samples, counts, maxima). A table that does not exist yet, or a registry entry
nobody has filled in, gives NOT_APPLICABLE with the reason, never PASS.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from compliance.errors import InputMissingError
from compliance.model import Finding, Status
from compliance.registry import check

SAMPLE_ROWS = 50
MAGIC = {
    "JPEG": b"\xff\xd8\xff",
    "PNG": b"\x89PNG\r\n\x1a\n",
    "GIF": b"GIF8",
    "WEBP/RIFF": b"RIFF",
    "HEIC": b"\x00\x00\x00\x18ftypheic",
    "NumPy": b"\x93NUMPY",
    "JSON": b"{",
}
ACCESS_REVIEW_MAX_DAYS = 183  # CAF B2.a indicator: access reviewed at least every 6 months
PURGE_MAX_AGE = timedelta(days=2)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    kind: str  # "template" | "image"
    key_id_column: str | None = None


@dataclass(frozen=True)
class RetentionRule:
    table: str
    timestamp_column: str
    max_age_days: int
    label: str


@dataclass(frozen=True)
class AccountTable:
    table: str
    disabled_column: str | None = "disabled_at"
    last_login_column: str | None = "last_login_at"
    created_column: str | None = "created_at"
    mfa_column: str | None = None  # a non-null value means MFA is enrolled
    dormant_days: int = 90


@dataclass(frozen=True)
class TimestampTable:
    table: str
    column: str


@dataclass
class DataRegistry:
    encrypted: list[EncryptedColumn] = field(default_factory=list)
    retention: list[RetentionRule] = field(default_factory=list)
    purge_log: TimestampTable | None = None
    accounts: AccountTable | None = None
    access_reviews: TimestampTable | None = None
    current_key_ids: frozenset[str] = frozenset()
    audit_verifier: Callable[[AsyncSession], Awaitable[Any]] | None = None  # returns an object with .intact/.reason


@dataclass
class DataSource:
    sessionmaker: async_sessionmaker[AsyncSession]
    registry: DataRegistry
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    engine: Any = None  # disposed by close() when the source made its own engine

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()


def build_context(inputs: Any) -> DataSource:
    if inputs.data is not None:
        return inputs.data
    raise InputMissingError("no database given")


def data_source_from_settings(settings: Any, now: datetime | None = None) -> DataSource:
    """Open the configured database read-only in spirit (only SELECTs) with the default registry."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(settings.database.url, pool_pre_ping=True)
    return DataSource(
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        registry=default_registry(settings),
        now=now or datetime.now(UTC),
        engine=engine,
    )


def default_registry(settings: Any) -> DataRegistry:
    """What exists today; the check-in and biometrics packages add their tables here as they land."""
    retention = getattr(settings, "retention", None)
    verifier = None
    key = getattr(getattr(settings, "security", None), "audit_hmac_key", None)
    if key:
        try:
            from security import audit
        except ImportError:  # the security package is optional for this module
            audit = None  # type: ignore[assignment]
        if audit is not None:
            chain_key = str(key).encode()

            async def verifier(session: AsyncSession) -> Any:
                return await audit.verify_chain(session, chain_key)

    kids = [
        p.split(":", 1)[0] for p in str(getattr(getattr(settings, "biometrics", None), "template_keys", "")).split(",")
    ]
    return DataRegistry(
        encrypted=[
            EncryptedColumn("face_templates", "ciphertext", "template", "key_id"),
            EncryptedColumn("checkin_images", "ciphertext", "image", "key_id"),
        ],
        retention=[
            RetentionRule("checkin_images", "created_at", int(getattr(retention, "checkin_image_days", 90)), "images"),
            RetentionRule("checkins", "created_at", int(getattr(retention, "record_days", 2190)), "records"),
        ],
        purge_log=TimestampTable("retention_runs", "finished_at"),
        accounts=AccountTable(
            "staff_users",
            dormant_days=int(getattr(settings.security, "dormant_account_days", 90)),
            mfa_column="totp_enrolled_at",
        ),
        access_reviews=TimestampTable("access_reviews", "completed_at"),
        current_key_ids=frozenset(k for k in kids[:1] if k),
        audit_verifier=verifier,
    )


# --- helpers -------------------------------------------------------------------------------------------------


def shannon_entropy(data: bytes) -> float:
    if not data:
        return 0.0
    counts = Counter(data)
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def looks_encrypted(blob: bytes) -> tuple[bool, str]:
    """No known plaintext magic and entropy close to the maximum possible for its length."""
    for name, magic in MAGIC.items():
        if blob.startswith(magic):
            return False, f"starts with {name} magic"
    if len(blob) < 32:
        return False, f"only {len(blob)} bytes"
    entropy = shannon_entropy(blob)
    ceiling = math.log2(min(len(blob), 256))
    if entropy < 0.9 * ceiling:
        return False, f"entropy {entropy:.2f} bits/byte (expected >= {0.9 * ceiling:.2f})"
    return True, f"entropy {entropy:.2f} bits/byte"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"invalid identifier {name!r} in the data registry")
    return name


async def _columns(session: AsyncSession, table: str) -> set[str] | None:
    def inspect(sync_session: Any) -> set[str] | None:
        insp = sa.inspect(sync_session.connection())
        if not insp.has_table(_ident(table)):
            return None
        return {c["name"] for c in insp.get_columns(table)}

    return await session.run_sync(inspect)


async def _need(session: AsyncSession, table: str, *columns: str | None) -> str | None:
    """Why this table cannot be checked (missing table or column), or None when it can."""
    found = await _columns(session, table)
    if found is None:
        return f"table {table} does not exist yet"
    missing = [c for c in columns if c and c not in found]
    return f"{table} has no column {', '.join(missing)}" if missing else None


def _na(reason: str, resource: str) -> Finding:
    return Finding(status=Status.NOT_APPLICABLE, message=reason, resource=resource, looked_at="database schema")


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _t(table: str, *columns: tuple[str, Any]) -> Any:
    return sa.table(_ident(table), *(sa.column(_ident(c), t) for c, t in columns))


# --- checks --------------------------------------------------------------------------------------------------


async def _encrypted(ds: DataSource, kind: str) -> list[Finding]:
    cols = [c for c in ds.registry.encrypted if c.kind == kind]
    if not cols:
        return [_na(f"no {kind} column registered", f"db:{kind}")]
    out = []
    async with ds.sessionmaker() as session:
        for col in cols:
            resource = f"db:{col.table}.{col.column}"
            why = await _need(session, col.table, col.column)
            if why:
                out.append(_na(why, resource))
                continue
            t = _t(col.table, (col.column, sa.LargeBinary()))
            rows = (await session.execute(sa.select(t.c[col.column]).limit(SAMPLE_ROWS))).scalars().all()
            blobs = [bytes(b) for b in rows if b is not None]
            if not blobs:
                out.append(_na("no rows to sample", resource))
                continue
            verdicts = [looks_encrypted(b) for b in blobs]
            bad = [why for ok, why in verdicts if not ok]
            out.append(
                Finding(
                    status=Status.FAIL if bad else Status.PASS,
                    message=f"{len(bad)} of {len(blobs)} sampled values look like plaintext ({bad[0]})"
                    if bad
                    else f"{len(blobs)} sampled values look encrypted",
                    resource=resource,
                    looked_at=f"sample of up to {SAMPLE_ROWS} rows (magic bytes, Shannon entropy)",
                    values={"sampled": len(blobs), "plaintext_like": len(bad), "reasons": sorted(set(bad))[:5]},
                )
            )
    return out


@check("DATA-001")
async def templates_encrypted(ds: DataSource) -> list[Finding]:
    return await _encrypted(ds, "template")


@check("DATA-002")
async def images_encrypted(ds: DataSource) -> list[Finding]:
    return await _encrypted(ds, "image")


@check("DATA-003")
async def key_ids_current(ds: DataSource) -> list[Finding]:
    cols = [c for c in ds.registry.encrypted if c.key_id_column]
    if not cols:
        return [_na("no key id column registered", "db:key-ids")]
    if not ds.registry.current_key_ids:
        raise InputMissingError("no current key id known (template keys not configured)")
    out = []
    async with ds.sessionmaker() as session:
        for col in cols:
            resource = f"db:{col.table}.{col.key_id_column}"
            why = await _need(session, col.table, col.key_id_column)
            if why:
                out.append(_na(why, resource))
                continue
            assert col.key_id_column is not None
            t = _t(col.table, (col.key_id_column, sa.String()))
            kid = t.c[col.key_id_column]
            rows = (await session.execute(sa.select(kid, sa.func.count()).group_by(kid))).all()
            by_kid = {str(k): int(n) for k, n in rows}
            stale = {k: n for k, n in by_kid.items() if k not in ds.registry.current_key_ids}
            out.append(
                Finding(
                    status=Status.FAIL if stale else Status.PASS,
                    message=f"{sum(stale.values())} rows under retired or unknown keys {sorted(stale)}"
                    if stale
                    else "every row under a current key",
                    resource=resource,
                    looked_at="row counts per key id",
                    values={"by_key_id": by_kid, "current": sorted(ds.registry.current_key_ids)},
                )
            )
    return out


async def _latest(ds: DataSource, log: Any) -> datetime | Finding | None:
    """The newest time in a registered log table's column, or NOT_APPLICABLE when the table isn't there."""
    async with ds.sessionmaker() as session:
        why = await _need(session, log.table, log.column)
        if why:
            return _na(why, f"db:{log.table}")
        t = _t(log.table, (log.column, sa.DateTime(timezone=True)))
        return _aware((await session.execute(sa.select(sa.func.max(t.c[log.column])))).scalar())


@check("DATA-004")
async def purge_ran_recently(ds: DataSource) -> Finding:
    log = ds.registry.purge_log
    if log is None:
        return _na("no retention run log registered", "db:retention-runs")
    latest = await _latest(ds, log)
    if isinstance(latest, Finding):
        return latest
    last = latest
    ok = last is not None and ds.now - last <= PURGE_MAX_AGE
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=f"retention purge last finished {last:%Y-%m-%d %H:%M}"
        if ok
        else ("retention purge never ran" if last is None else f"retention purge last finished {last:%Y-%m-%d}"),
        resource=f"db:{log.table}",
        looked_at=f"max({log.column})",
        values={"last_run": last.isoformat() if last else None, "max_age_hours": PURGE_MAX_AGE.total_seconds() / 3600},
    )


@check("DATA-005")
async def nothing_past_retention(ds: DataSource) -> list[Finding]:
    if not ds.registry.retention:
        return [_na("no retention rule registered", "db:retention")]
    out = []
    async with ds.sessionmaker() as session:
        for rule in ds.registry.retention:
            resource = f"db:{rule.table}"
            why = await _need(session, rule.table, rule.timestamp_column)
            if why:
                out.append(_na(why, resource))
                continue
            t = _t(rule.table, (rule.timestamp_column, sa.DateTime(timezone=True)))
            cutoff = ds.now - timedelta(days=rule.max_age_days)
            count = (
                await session.execute(sa.select(sa.func.count()).where(t.c[rule.timestamp_column] < cutoff))
            ).scalar_one()
            out.append(
                Finding(
                    status=Status.FAIL if count else Status.PASS,
                    message=f"{count} {rule.label} older than {rule.max_age_days} days"
                    if count
                    else f"no {rule.label} older than {rule.max_age_days} days",
                    resource=resource,
                    looked_at=f"count of rows with {rule.timestamp_column} before the cutoff",
                    values={"older": int(count), "cutoff": cutoff.isoformat(), "max_age_days": rule.max_age_days},
                )
            )
    return out


@check("DATA-006")
async def audit_chain_intact(ds: DataSource) -> Finding:
    verifier = ds.registry.audit_verifier
    if verifier is None:
        return _na("no audit chain verifier registered", "db:audit")
    async with ds.sessionmaker() as session:
        try:
            report = await verifier(session)
        except sa.exc.NoSuchTableError:
            return _na("audit tables do not exist", "db:audit")
        except sa.exc.OperationalError as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return _na("audit tables do not exist", "db:audit")
            raise
    intact = bool(getattr(report, "intact", False))
    return Finding(
        status=Status.PASS if intact else Status.FAIL,
        message=f"audit chain of {getattr(report, 'entries', '?')} entries intact"
        if intact
        else f"audit chain broken at {getattr(report, 'first_broken_seq', '?')}: {getattr(report, 'reason', '')}",
        resource="db:audit",
        looked_at="audit chain verifier",
        values={
            "entries": getattr(report, "entries", None),
            "first_broken": getattr(report, "first_broken_seq", None),
            "unsealed": getattr(report, "unsealed", None),
        },
    )


def _active(t: Any, acc: AccountTable) -> Any:
    return t.c[acc.disabled_column].is_(None) if acc.disabled_column else sa.true()


@check("DATA-007")
async def active_staff_have_mfa(ds: DataSource) -> Finding:
    acc = ds.registry.accounts
    if acc is None:
        return _na("no account table registered", "db:accounts")
    if acc.mfa_column is None:
        return _na(f"{acc.table} records no MFA enrolment yet (register its column)", f"db:{acc.table}")
    async with ds.sessionmaker() as session:
        why = await _need(session, acc.table, acc.mfa_column, acc.disabled_column)
        if why:
            return _na(why, f"db:{acc.table}")
        cols = [(acc.mfa_column, sa.String())] + ([(acc.disabled_column, sa.DateTime())] if acc.disabled_column else [])
        t = _t(acc.table, *cols)
        total = (await session.execute(sa.select(sa.func.count()).where(_active(t, acc)))).scalar_one()
        without = (
            await session.execute(sa.select(sa.func.count()).where(_active(t, acc), t.c[acc.mfa_column].is_(None)))
        ).scalar_one()
    return Finding(
        status=Status.FAIL if without else Status.PASS,
        message=f"{without} of {total} active staff accounts without MFA"
        if without
        else f"all {total} active staff accounts have MFA",
        resource=f"db:{acc.table}",
        looked_at=f"count of active rows with {acc.mfa_column} null",
        values={"active": int(total), "without_mfa": int(without)},
    )


@check("DATA-008")
async def no_dormant_accounts(ds: DataSource) -> Finding:
    acc = ds.registry.accounts
    if acc is None or acc.last_login_column is None:
        return _na("no account table registered", "db:accounts")
    async with ds.sessionmaker() as session:
        why = await _need(session, acc.table, acc.last_login_column, acc.disabled_column, acc.created_column)
        if why:
            return _na(why, f"db:{acc.table}")
        cols = [(acc.last_login_column, sa.DateTime(timezone=True))]
        cols += [(acc.disabled_column, sa.DateTime())] if acc.disabled_column else []
        cols += [(acc.created_column, sa.DateTime(timezone=True))] if acc.created_column else []
        t = _t(acc.table, *cols)
        cutoff = ds.now - timedelta(days=acc.dormant_days)
        last = t.c[acc.last_login_column]
        never = last.is_(None) & (t.c[acc.created_column] < cutoff) if acc.created_column else last.is_(None)
        dormant = (
            await session.execute(sa.select(sa.func.count()).where(_active(t, acc), (last < cutoff) | never))
        ).scalar_one()
    return Finding(
        status=Status.FAIL if dormant else Status.PASS,
        message=f"{dormant} active accounts unused for more than {acc.dormant_days} days"
        if dormant
        else f"no active account unused for more than {acc.dormant_days} days",
        resource=f"db:{acc.table}",
        looked_at="count of active accounts by last login",
        values={"dormant": int(dormant), "dormant_days": acc.dormant_days},
    )


@check("DATA-009")
async def access_reviewed(ds: DataSource) -> Finding:
    log = ds.registry.access_reviews
    if log is None:
        return _na("no access review table registered", "db:access-reviews")
    latest = await _latest(ds, log)
    if isinstance(latest, Finding):
        return latest
    last = latest
    ok = last is not None and ds.now - last <= timedelta(days=ACCESS_REVIEW_MAX_DAYS)
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=f"last access review {last:%Y-%m-%d}"
        if ok
        else ("no access review recorded" if last is None else f"last access review {last:%Y-%m-%d}, over 6 months"),
        resource=f"db:{log.table}",
        looked_at=f"max({log.column})",
        values={"last_review": last.isoformat() if last else None, "max_days": ACCESS_REVIEW_MAX_DAYS},
    )
