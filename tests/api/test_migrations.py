"""Alembic migrations are the only way the schema is made: the migrated schema equals the models, and every
migration can be undone."""

from __future__ import annotations

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
