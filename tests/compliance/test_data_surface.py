"""Data at rest against a throwaway SQLite schema made here: each check fails on bad rows and passes on good ones."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from compliance.model import Status
from compliance.surfaces.data import (
    AccountTable,
    DataRegistry,
    DataSource,
    EncryptedColumn,
    RetentionRule,
    TimestampTable,
    looks_encrypted,
    shannon_entropy,
)

from .conftest import only, statuses

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 2

metadata = sa.MetaData()
templates = sa.Table(
    "face_templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ciphertext", sa.LargeBinary),
    sa.Column("key_id", sa.String(64)),
)
images = sa.Table(
    "checkin_images",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ciphertext", sa.LargeBinary),
    sa.Column("key_id", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
)
runs = sa.Table(
    "retention_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)
staff = sa.Table(
    "staff_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("disabled_at", sa.DateTime(timezone=True)),
    sa.Column("last_login_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("mfa_enrolled_at", sa.DateTime(timezone=True)),
)
reviews = sa.Table(
    "access_reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
)


class ChainReport:
    def __init__(self, intact: bool) -> None:
        self.intact, self.entries = intact, 3
        self.first_broken_seq, self.reason = (None, None) if intact else (2, "link does not match")


def registry(chain_intact: bool = True) -> DataRegistry:
    async def verifier(session: AsyncSession) -> ChainReport:
        return ChainReport(chain_intact)

    return DataRegistry(
        encrypted=[
            EncryptedColumn("face_templates", "ciphertext", "template", "key_id"),
            EncryptedColumn("checkin_images", "ciphertext", "image", "key_id"),
        ],
        retention=[RetentionRule("checkin_images", "created_at", 90, "images")],
        purge_log=TimestampTable("retention_runs", "finished_at"),
        accounts=AccountTable("staff_users", mfa_column="mfa_enrolled_at", dormant_days=90),
        access_reviews=TimestampTable("access_reviews", "completed_at"),
        current_key_ids=frozenset({"k2"}),
        audit_verifier=verifier,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'data.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def insert(maker: async_sessionmaker[AsyncSession], table: sa.Table, *rows: dict[str, Any]) -> None:
    async with maker() as session, session.begin():
        await session.execute(table.insert(), list(rows))


def good_rows() -> dict[sa.Table, list[dict[str, Any]]]:
    return {
        templates: [{"ciphertext": os.urandom(544), "key_id": "k2"} for _ in range(3)],
        images: [{"ciphertext": os.urandom(4096), "key_id": "k2", "created_at": NOW - timedelta(days=3)}],
        runs: [{"finished_at": NOW - timedelta(hours=5)}],
        staff: [
            {
                "last_login_at": NOW - timedelta(days=1),
                "created_at": NOW - timedelta(days=400),
                "mfa_enrolled_at": NOW - timedelta(days=300),
            }
        ],
        reviews: [{"completed_at": NOW - timedelta(days=30)}],
    }


BAD: dict[str, tuple[sa.Table, dict[str, Any]]] = {
    "DATA-001": (templates, {"ciphertext": bytes(range(64)) * 8, "key_id": "k2"}),  # structured, low entropy
    "DATA-002": (images, {"ciphertext": JPEG, "key_id": "k2", "created_at": NOW}),
    "DATA-003": (templates, {"ciphertext": os.urandom(544), "key_id": "k1-retired"}),
    "DATA-005": (images, {"ciphertext": os.urandom(512), "key_id": "k2", "created_at": NOW - timedelta(days=200)}),
    "DATA-007": (staff, {"last_login_at": NOW, "created_at": NOW, "mfa_enrolled_at": None}),
    "DATA-008": (
        staff,
        {"last_login_at": NOW - timedelta(days=200), "created_at": NOW - timedelta(days=300), "mfa_enrolled_at": NOW},
    ),
}


async def seeded(maker: async_sessionmaker[AsyncSession]) -> DataSource:
    for table, rows in good_rows().items():
        await insert(maker, table, *rows)
    return DataSource(sessionmaker=maker, registry=registry(), now=NOW)


@pytest.mark.parametrize("check_id", [f"DATA-00{i}" for i in range(1, 10)])
async def test_every_data_check_passes_on_good_data(db: async_sessionmaker[AsyncSession], check_id: str) -> None:
    ds = await seeded(db)
    assert only(await statuses(check_id, ds)) is Status.PASS


@pytest.mark.parametrize(("check_id", "bad"), sorted(BAD.items()))
async def test_data_checks_fail_on_a_bad_row(
    db: async_sessionmaker[AsyncSession], check_id: str, bad: tuple[sa.Table, dict[str, Any]]
) -> None:
    ds = await seeded(db)
    table, row = bad
    await insert(db, table, row)
    assert Status.FAIL in await statuses(check_id, ds)


async def test_purge_and_review_fail_when_stale_or_missing(db: async_sessionmaker[AsyncSession]) -> None:
    ds = DataSource(sessionmaker=db, registry=registry(), now=NOW)
    assert only(await statuses("DATA-004", ds)) is Status.FAIL  # never ran
    assert only(await statuses("DATA-009", ds)) is Status.FAIL  # never reviewed
    await insert(db, runs, {"finished_at": NOW - timedelta(days=5)})
    await insert(db, reviews, {"completed_at": NOW - timedelta(days=200)})
    assert only(await statuses("DATA-004", ds)) is Status.FAIL
    assert only(await statuses("DATA-009", ds)) is Status.FAIL


async def test_a_broken_audit_chain_fails(db: async_sessionmaker[AsyncSession]) -> None:
    ds = DataSource(sessionmaker=db, registry=registry(chain_intact=False), now=NOW)
    assert only(await statuses("DATA-006", ds)) is Status.FAIL


async def test_missing_tables_are_not_applicable_with_a_reason(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    ds = DataSource(sessionmaker=async_sessionmaker(engine), registry=registry(), now=NOW)
    try:
        for check_id in ("DATA-001", "DATA-002", "DATA-003", "DATA-004", "DATA-005", "DATA-007", "DATA-008"):
            assert only(await statuses(check_id, ds)) is Status.NOT_APPLICABLE
    finally:
        await engine.dispose()


async def test_the_real_audit_chain_verifier_is_used_by_default(tmp_path: Path) -> None:
    from compliance.surfaces.data import default_registry
    from core.settings import Settings

    reg = default_registry(Settings())
    assert reg.audit_verifier is not None
    assert reg.accounts is not None
    assert reg.accounts.table == "staff_users"


def test_entropy_and_magic() -> None:
    assert shannon_entropy(b"aaaa") == 0.0
    assert looks_encrypted(os.urandom(1024))[0]
    assert not looks_encrypted(JPEG)[0]
    assert not looks_encrypted(b"\x89PNG\r\n\x1a\n" + os.urandom(1024))[0]
    assert not looks_encrypted(b"x" * 1024)[0]
