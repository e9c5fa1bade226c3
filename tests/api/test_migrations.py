"""Alembic migrations are the only way the schema is made: the migrated schema equals the models, and every
migration can be undone."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from api.migrate import alembic_config, head
from api.models import metadata
from core.db import Database


def _diff(connection):  # type: ignore[no-untyped-def]
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


async def test_migrated_schema_equals_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    assert differences == []


async def test_the_database_is_at_the_single_head(db: Database) -> None:
    async with db.engine.connect() as conn:
        current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    assert current == head(db.settings)


def test_migrations_form_one_line_without_branches(settings) -> None:  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(settings))
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_upgrade_downgrade_and_upgrade_again_on_a_fresh_sqlite_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from api import migrate
    from tests.conftest import make_settings

    path = tmp_path / "cycle.db"
    settings = make_settings(f"sqlite+aiosqlite:///{path}")
    migrate.upgrade(settings)
    migrate.downgrade(settings, "base")
    tables = {r[0] for r in sqlite3.connect(path).execute("select name from sqlite_master where type='table'")}
    assert tables <= {"alembic_version"}
    migrate.upgrade(settings)
    tables = {r[0] for r in sqlite3.connect(path).execute("select name from sqlite_master where type='table'")}
    assert {t.name for t in metadata.sorted_tables} <= tables


def _old_chain(connection, key: bytes, n: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` entries written the way the audit log was written before the sealer (seq and hash at insert)."""
    import json
    from datetime import UTC, datetime

    from sqlalchemy import text

    from security.audit import GENESIS, chain_hash

    prev = GENESIS
    for seq in range(1, n + 1):
        at = datetime(2026, 11, 1, 12, 0, seq, tzinfo=UTC)
        entry = {
            "seq": seq,
            "at": at.isoformat(),
            "actor_id": None,
            "actor_role": "system",
            "action": "wearer.read",
            "resource_type": "wearer",
            "resource_id": str(seq),
            "outcome": "success",
            "client_address": None,
            "request_id": None,
            "details": json.dumps({"i": seq}),
        }
        digest = chain_hash(key, prev, entry)
        values = {**entry, "at": at.replace(tzinfo=None), "prev_hash": prev, "hash": digest, "head_id": 1}
        if seq == 1:
            connection.execute(text("INSERT INTO audit_chain_head (id, seq, last_hash) VALUES (1, 0, :h)"), {"h": prev})
        connection.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor_id, actor_role, action, resource_type, resource_id, outcome,"
                " client_address, request_id, details, prev_hash, hash, head_id) VALUES (:seq, :at, :actor_id,"
                " :actor_role, :action, :resource_type, :resource_id, :outcome, :client_address, :request_id,"
                " :details, :prev_hash, :hash, :head_id)"
            ),
            values,
        )
        connection.execute(text("UPDATE audit_chain_head SET seq = :s, last_hash = :h"), {"s": seq, "h": digest})
        prev = digest


async def _sealer_upgrade_cycle(url: str) -> None:
    import uuid

    import pytest
    from alembic.script import ScriptDirectory

    from api import migrate
    from security.actor import Actor, Role
    from security.audit import record, verify_chain
    from security.sealer import seal_pending
    from tests.conftest import make_settings

    settings = make_settings(url)
    key = settings.security.audit_hmac_key.encode()
    before = str(ScriptDirectory.from_config(alembic_config(settings)).get_revision("0007_audit_sealer").down_revision)
    await asyncio.to_thread(migrate.upgrade, settings, before)
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: _old_chain(c, key, 3))
    await db.dispose()
    await asyncio.to_thread(migrate.upgrade, settings)
    db = Database(settings)
    try:
        async with db.transaction() as s:
            report = await verify_chain(s, key)
        assert (report.intact, report.entries, report.unsealed) == (True, 3, 0)  # existing entries stay sealed
        async with db.transaction() as s:
            await record(s, Actor(id=uuid.uuid4(), role=Role.CASEWORKER), "wearer.read", "wearer", key=key)
        with pytest.raises(RuntimeError, match="not sealed yet"):
            await asyncio.to_thread(migrate.downgrade, settings, before)
        assert await seal_pending(db, key, 0) == 1
        async with db.transaction() as s:
            report = await verify_chain(s, key)
        assert (report.intact, report.entries) == (True, 4)  # the new entry chains on from the migrated ones
    finally:
        await db.dispose()
    await asyncio.to_thread(migrate.downgrade, settings, before)
    await asyncio.to_thread(migrate.upgrade, settings)


async def test_existing_entries_are_migrated_as_sealed_and_the_chain_continues(tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    if database_url.startswith("sqlite"):
        await _sealer_upgrade_cycle(f"sqlite+aiosqlite:///{tmp_path / 'sealer.db'}")
        return
    import uuid

    from sqlalchemy.engine import make_url

    from tests.conftest import PG_URL, _admin_execute

    name = f"emon_mig_{uuid.uuid4().hex[:10]}"
    await _admin_execute(PG_URL, f'CREATE DATABASE "{name}"')
    try:
        await _sealer_upgrade_cycle(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        await _admin_execute(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
