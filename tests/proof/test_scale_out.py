"""Two app instances as separate processes on one PostgreSQL database and one Redis (a key prefix of their own):
what one instance counts, spends or revokes, the other sees. Needs PostgreSQL and Redis (fails instead of skipping
under ``EMON_REQUIRE_SERVICES=1``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.db import Database
from fieldwork.models import SyncOperation, Visit
from security.actor import Role
from tests.checkin.conftest import make_case
from tests.proof.flows import failed_visit, open_jobs
from tests.proof.servers import Deployment
from tests.security.conftest import POSTURE, make_account, new_device_key, password_hash

__all__ = ["make_account", "make_case", "password_hash"]  # other packages' fixtures, used here

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def backend() -> str:
    return "postgres"


@pytest.fixture
def two_instances(tmp_path: Path, database_url: str, redis_url: str, db: Database) -> Iterator[Deployment]:
    """Instances A and B (started by the test) on the test's PostgreSQL database (already migrated) and Redis."""
    deployed = Deployment(
        tmp_path,
        database_url,
        redis_url,
        EMON_SECURITY_LOGIN_MAX_FAILURES="4",
        EMON_SECURITY_API_RATE_PER_MINUTE="100000",
        EMON_CHECKIN_SWEEP_INTERVAL_SECONDS="1",
    )
    try:
        yield deployed
    finally:
        deployed.stop_all()


async def count(db: Database, model: Any) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_login_throttle_counts_failures_on_both_instances(
    two_instances: Deployment, make_account: Callable[..., Any]
) -> None:
    account = await make_account(Role.CASEWORKER)
    a, b = two_instances.start(), two_instances.start()
    codes = []
    async with httpx.AsyncClient(timeout=30) as client:
        for i in range(6):
            base = (a if i % 2 else b).base
            wrong = {"username": account.username, "password": f"wrong password {i}"}
            codes.append((await client.post(base + "/api/v1/auth/login", json=wrong)).status_code)
        right = {"username": account.username, "password": account.password}
        after = [(await client.post(x.base + "/api/v1/auth/login", json=right)).status_code for x in (a, b)]
    assert codes == [401, 401, 401, 401, 429, 429]
    assert after == [429, 429]  # locked out everywhere, even with the right password


async def test_a_signed_device_request_accepted_by_one_instance_is_refused_by_the_other(
    two_instances: Deployment, make_staff: Callable[..., Any]
) -> None:
    officer = await make_staff(Role.FIELD_OFFICER, team="North")
    a, b = two_instances.start(), two_instances.start()
    key = new_device_key()
    async with httpx.AsyncClient(timeout=30) as client:
        enrolled = await client.post(
            a.base + "/api/v1/devices",
            json={"kind": "phone", "label": "phone 1", "public_key": key.public_b64, "posture": POSTURE},
            headers=two_instances.bearer(officer),
        )
        assert enrolled.status_code == 201, enrolled.text
        key.device_id = enrolled.json()["id"]
        path = "/api/v1/devices/token"
        signed = key.headers("POST", path)
        first = await client.post(a.base + path, content=b"", headers=signed)
        replayed = await client.post(b.base + path, content=b"", headers=signed)
        fresh = await client.post(b.base + path, content=b"", headers=key.headers("POST", path))
    assert first.status_code == 201, first.text
    assert replayed.status_code == 401
    assert replayed.headers["content-type"].startswith("application/problem+json")
    assert fresh.status_code == 201  # the device itself is fine; only the spent nonce is refused


async def test_a_refresh_token_reused_on_the_other_instance_revokes_the_family(
    two_instances: Deployment, make_account: Callable[..., Any]
) -> None:
    account = await make_account(Role.CASEWORKER)
    a, b = two_instances.start(), two_instances.start()
    async with httpx.AsyncClient(timeout=30) as client:
        login = await client.post(
            a.base + "/api/v1/auth/login", json={"username": account.username, "password": account.password}
        )
        assert login.status_code == 201, login.text
        mfa = await client.post(
            a.base + "/api/v1/auth/mfa", json={"mfa_token": login.json()["mfa_token"], "code": account.code()}
        )
        assert mfa.status_code == 201, mfa.text
        first = mfa.json()["refresh_token"]
        rotated = await client.post(a.base + "/api/v1/auth/refresh", json={"refresh_token": first})
        assert rotated.status_code == 201, rotated.text
        current = rotated.json()["refresh_token"]
        reused = await client.post(b.base + "/api/v1/auth/refresh", json={"refresh_token": first})
        after_on_a = await client.post(a.base + "/api/v1/auth/refresh", json={"refresh_token": current})
        after_on_b = await client.post(b.base + "/api/v1/auth/refresh", json={"refresh_token": current})
    assert reused.status_code == 401
    assert (after_on_a.status_code, after_on_b.status_code) == (401, 401)


async def test_the_same_sync_batch_sent_to_both_instances_at_once_writes_once(
    two_instances: Deployment, make_staff: Callable[..., Any], db: Database
) -> None:
    caseworker = await make_staff(Role.CASEWORKER)
    officer = await make_staff(Role.FIELD_OFFICER, team="North")
    a, b = two_instances.start(), two_instances.start()
    headers = two_instances.bearer(officer)
    async with httpx.AsyncClient(timeout=60) as client:
        jobs = await open_jobs(client, a.base, two_instances.bearer(caseworker), headers, 6)
        visits_before = await count(db, Visit)
        for round_ in range(3):
            batch = {"operations": [failed_visit(job) for job in jobs[2 * round_ : 2 * round_ + 2]]}
            answers = await asyncio.gather(
                *(client.post(x.base + "/api/v1/sync", json=batch, headers=headers) for x in (a, b, a, b))
            )
            assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
            for answer in answers:
                outcomes = [r["outcome"] for r in answer.json()["results"]]
                assert outcomes == ["APPLIED", "APPLIED"], answer.text  # first or replayed: the same results
    assert await count(db, Visit) - visits_before == 6
    assert await count(db, SyncOperation) == 6


async def test_both_instances_sweep_and_each_missed_prompt_is_marked_and_alerted_once(
    two_instances: Deployment, make_case: Callable[..., Any], db: Database
) -> None:
    from checkin.models import Alert, Prompt

    case = await make_case()
    a, b = two_instances.start(EMON_LOGGING_LEVEL="INFO"), two_instances.start(EMON_LOGGING_LEVEL="INFO")
    total = 0
    # waves of expired prompts while both sweep (every second), so the sweepers race for the same rows
    # (waves 0.37 s apart against a 1 s sweep interval land in different instances' passes)
    for wave in range(12):
        await _expired_prompts(db, case.wearer_id, case.order_id, wave, 200)
        total += 200
        await asyncio.sleep(0.37)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        async with db.transaction() as s:
            pending = (
                await s.execute(select(func.count()).select_from(Prompt).where(Prompt.status == "PENDING"))
            ).scalar_one()
        if pending == 0:
            break
        await asyncio.sleep(0.5)
    assert a.alive()
    assert b.alive()
    async with db.transaction() as s:
        missed_query = select(func.count()).select_from(Prompt).where(Prompt.status == "MISSED")
        missed = (await s.execute(missed_query)).scalar_one()
        alerts = (await s.execute(select(func.count(), func.count(func.distinct(Alert.prompt_id))))).one()
    a.stop()
    b.stop()
    by_instance = [_swept(x.log) for x in (a, b)]
    print(f"sweeper across two instances: {total} prompts, {missed} missed, {alerts[0]} alerts; by A, B: {by_instance}")
    assert sum(by_instance) == total  # between them the instances marked each prompt once
    assert missed == total
    assert tuple(alerts) == (total, total)


def _swept(log: Path) -> int:
    import json

    marked = 0
    for line in log.read_text(errors="replace").splitlines():
        if "missed check-ins swept" in line:
            marked += int(json.loads(line[line.index("{") :]).get("marked", 0))
    return marked


async def _expired_prompts(db: Database, wearer_id: uuid.UUID, order_id: uuid.UUID, wave: int, n: int) -> None:
    from checkin.models import Prompt

    now = datetime.now(UTC)
    async with db.transaction() as s:
        s.add_all(
            Prompt(
                wearer_id=wearer_id,
                order_id=order_id,
                kind="SCHEDULED",
                window_key=f"PROOF-{wave}-{i}",
                prompt_date=now.date(),
                issue_at=now - timedelta(minutes=30),
                expires_at=now - timedelta(seconds=1),
                nonce=uuid.uuid4().hex * 2,
                challenge="TURN_LEFT",
                status="PENDING",
            )
            for i in range(n)
        )
