"""Test fixtures: a real database (SQLite always, PostgreSQL and Redis when their URLs are given), built by the
real migrations, emptied after each test; and the real app in front of it.

Environment:
- ``EMON_TEST_DATABASE_URL``: a PostgreSQL server (``postgresql+asyncpg://user@host/db``); each run creates and
  drops its own database on it, so parallel runs don't collide.
- ``EMON_TEST_REDIS_URL``: a Redis server; each run uses its own key prefix.
- ``EMON_REQUIRE_SERVICES=1``: a missing service fails the run instead of skipping its tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from api.app import create_app
from api.migrate import upgrade_connection
from api.models import metadata
from core.db import Database
from core.settings import Settings, load_settings

PG_URL = os.environ.get("EMON_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("EMON_TEST_REDIS_URL", "")
REQUIRE = os.environ.get("EMON_REQUIRE_SERVICES") == "1"
BACKENDS = ["sqlite", "postgres"]
TEST_HOST = "testserver.local"


def service_missing(name: str, variable: str) -> None:
    message = f"{name} not configured: set {variable}"
    if REQUIRE:
        pytest.fail(message + " (EMON_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def make_settings(database_url: str, **env: str) -> Settings:
    """Settings as a test wants them: the given database, fast hashing off (real argon2 floor), test host allowed."""
    environ = {
        "EMON_DATABASE_URL": database_url,
        "EMON_HTTP_ALLOWED_HOSTS": f"{TEST_HOST},127.0.0.1,localhost",
        "EMON_LOGGING_JSON": "true",
    }
    environ.update(env)
    return load_settings(environ, dotenv=None)


@pytest.fixture(scope="session")
def tmp_session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emon")


def _run_in_thread(coro_factory: Callable[[], Any]) -> Any:
    """Run a coroutine on a private loop in another thread (for sync session fixtures)."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()


async def _admin_execute(server_url: str, statement: str) -> None:
    admin = create_async_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards."""
    if not PG_URL:
        service_missing("PostgreSQL", "EMON_TEST_DATABASE_URL")
    name = f"emon_test_{uuid.uuid4().hex[:12]}"
    _run_in_thread(lambda: _admin_execute(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _run_in_thread(lambda: _admin_execute(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_migrated: dict[str, Database] = {}


async def _migrated_database(url: str) -> Database:
    if url not in _migrated:
        settings = make_settings(url)
        db = Database(settings)
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: upgrade_connection(sync_conn, settings))
        _migrated[url] = db
    return _migrated[url]


async def _empty_tables(db: Database) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    if not tables:
        return
    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            await conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_session_dir: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_session_dir / 'test.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The migrated database of the current backend, emptied after the test."""
    database = await _migrated_database(database_url)
    try:
        yield database
    finally:
        await _empty_tables(database)


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that the test's block commits when it completes."""
    async with db.transaction() as s:
        yield s


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        service_missing("Redis", "EMON_TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture
def settings_for(database_url: str) -> Callable[..., Settings]:
    """Build settings for the current backend with extra ``EMON_*`` values."""

    def build(**env: str) -> Settings:
        return make_settings(database_url, **env)

    return build


@pytest.fixture
def settings(settings_for: Callable[..., Settings]) -> Settings:
    return settings_for()


@pytest.fixture
async def app(settings: Settings, db: Database) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url=f"http://{TEST_HOST}") as c:
        yield c


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment() -> Iterator[None]:
    """No developer ``.env`` or ``EMON_*`` variable leaks into the tests' settings."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("EMON_") and not k.startswith("EMON_TEST_")}
    for key in saved:
        if key != "EMON_REQUIRE_SERVICES":
            os.environ.pop(key)
    yield
    os.environ.update(saved)


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    for item in items:
        if "backend" in getattr(item, "fixturenames", ()) and "[postgres" in item.name:
            item.add_marker(pytest.mark.postgres)


# ---- people and tokens -------------------------------------------------------------------------------------------


@pytest.fixture
def token_for(app: Litestar) -> Callable[..., dict[str, str]]:
    """Authorization headers carrying a real signed access token for an actor (bypasses login and MFA)."""
    from security.actor import Actor

    def build(actor: Actor) -> dict[str, str]:
        token, _ = app.state.tokens.issue_access_token(actor)
        return {"Authorization": f"Bearer {token}"}

    return build


@pytest.fixture
def make_staff(db: Database) -> Callable[..., Any]:
    """Create a staff account (and its team when given a team name); returns its Actor."""
    from security.actor import Actor, Role
    from security.models import StaffUser, Team

    async def build(role: Role | str, *, username: str | None = None, team: str | None = None) -> Actor:
        role = Role(role)
        async with db.transaction() as s:
            team_row = None
            if team is not None:
                from sqlalchemy import select

                team_row = (await s.execute(select(Team).where(Team.name == team))).scalar_one_or_none()
                if team_row is None:
                    team_row = Team(name=team, region=team)
                    s.add(team_row)
                    await s.flush()
            user = StaffUser(
                username=username or f"{role.value}-{uuid.uuid4().hex[:8]}",
                display_name=f"Test {role.value}",
                role=role.value,
                team_id=team_row.id if team_row else None,
                password_hash="!test-account-without-password",
            )
            s.add(user)
            await s.flush()
            return Actor(id=user.id, role=role, team_id=user.team_id)

    return build
