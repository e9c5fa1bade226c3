"""Faults: an instance killed with SIGKILL in the middle of a stream of sync batches (clients retry on the other
instance: every acknowledged write is there exactly once), and the database restarting under load (``/readyz``
answers 503 while it is down, and the same process serves again when it is back, with no restart)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
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
from tests.proof.private_pg import binaries, private_postgres
from tests.proof.servers import Deployment, Instance, create_staff, deployment

pytestmark = [pytest.mark.slow]
__all__ = ["make_case"]  # the check-in package's case fixture, used here


@pytest.fixture
def backend() -> str:
    return "postgres"


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.transaction() as s:
        visits = (await s.execute(select(func.count()).select_from(Visit))).scalar_one()
        ops = (await s.execute(select(func.count()).select_from(SyncOperation))).scalar_one()
        distinct = (await s.execute(select(func.count(func.distinct(SyncOperation.client_op_id))))).scalar_one()
    return int(visits), int(ops), int(distinct)


class RetryingClient:
    """A phone's sync client: sends a batch to its instance and, when the connection fails, the same batch to the
    next one (the load balancer's job in production)."""

    def __init__(self, client: httpx.AsyncClient, instances: list[Instance], headers: dict[str, str]) -> None:
        self.client = client
        self.instances = instances
        self.headers = headers
        self.retries = 0
        self.acknowledged: dict[str, str] = {}  # op_id -> outcome
        self.threshold = 8
        self.reached = asyncio.Event()  # set once ``threshold`` operations are acknowledged

    async def send(self, batch: dict[str, Any], prefer: int = 0) -> None:
        for attempt in range(6):
            instance = self.instances[(prefer + attempt) % len(self.instances)]
            try:
                response = await self.client.post(instance.base + "/api/v1/sync", json=batch, headers=self.headers)
            except httpx.TransportError:
                self.retries += 1
                await asyncio.sleep(0.1)
                continue
            if response.status_code >= 500:
                self.retries += 1
                continue
            assert response.status_code == 200, response.text
            for result in response.json()["results"]:
                self.acknowledged[result["op_id"]] = result["outcome"]
            if len(self.acknowledged) >= self.threshold:
                self.reached.set()
            return
        raise AssertionError("no instance acknowledged the batch")


@pytest.mark.postgres
async def test_sigkill_mid_stream_loses_and_duplicates_no_acknowledged_sync_write(
    tmp_path: Path, database_url: str, db: Database, make_staff: Callable[..., Any]
) -> None:
    caseworker = await make_staff(Role.CASEWORKER)
    officer = await make_staff(Role.FIELD_OFFICER, team="North")
    deployed = Deployment(tmp_path, database_url, EMON_SECURITY_API_RATE_PER_MINUTE="100000")
    try:
        a, b = deployed.start(), deployed.start()
        headers = deployed.bearer(officer)
        async with httpx.AsyncClient(timeout=20) as client:
            jobs = await open_jobs(client, b.base, deployed.bearer(caseworker), headers, 30)
            before = await _counts(db)
            batches = [{"operations": [failed_visit(j) for j in jobs[i : i + 2]]} for i in range(0, len(jobs), 2)]
            phone = RetryingClient(client, [a, b], headers)
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            for batch in batches:
                queue.put_nowait(batch)

            async def sender() -> None:
                while not queue.empty():
                    await phone.send(queue.get_nowait(), prefer=0)  # everyone prefers A until it dies

            async def killer() -> None:
                await phone.reached.wait()
                a.kill9()

            await asyncio.gather(sender(), sender(), sender(), killer())
        after = await _counts(db)
    finally:
        deployed.stop_all()
    sent = {op["op_id"] for batch in batches for op in batch["operations"]}
    print(
        f"kill -9 mid-stream: {len(sent)} operations in {len(batches)} batches, {phone.retries} retried sends, "
        f"{after[0] - before[0]} visits written, {after[1] - before[1]} ledger rows"
    )
    assert not a.alive()
    assert set(phone.acknowledged) == sent
    assert set(phone.acknowledged.values()) == {"APPLIED"}
    assert after[0] - before[0] == len(sent)  # every acknowledged visit is there, once
    assert (after[1] - before[1], after[2] - before[2]) == (len(sent), len(sent))


@pytest.mark.skipif(binaries() is None, reason="PostgreSQL server binaries are not installed")
async def test_readyz_answers_503_while_the_database_restarts_and_the_process_recovers_alone(tmp_path: Path) -> None:
    bin_dir = binaries()
    assert bin_dir is not None
    with private_postgres(bin_dir) as pg:
        pg.create_database("emon")
        with deployment(tmp_path, pg.url("emon"), EMON_SECURITY_API_RATE_PER_MINUTE="100000") as deployed:
            officer = await create_staff(deployed.database(), Role.FIELD_OFFICER, team="North")
            instance = deployed.start()
            headers = deployed.bearer(officer)
            timeline: list[tuple[float, str, int, str]] = []
            stop = asyncio.Event()
            async with httpx.AsyncClient(base_url=instance.base, timeout=10) as client:

                async def load() -> None:
                    while not stop.is_set():
                        for path in ("/readyz", "/api/v1/jobs"):
                            try:
                                response = await client.get(path, headers=headers)
                                kind = response.headers.get("content-type", "")
                                timeline.append((time.monotonic(), path, response.status_code, kind))
                            except httpx.TransportError as exc:
                                timeline.append((time.monotonic(), path, 0, type(exc).__name__))
                        await asyncio.sleep(0.05)

                task = asyncio.create_task(load())
                await asyncio.sleep(1.5)
                down_at = time.monotonic()
                await asyncio.to_thread(pg.stop, "fast")
                await asyncio.sleep(3)
                up_at = time.monotonic()
                await asyncio.to_thread(pg.start)
                await asyncio.to_thread(pg.wait_ready)
                # the pool holds connections to the old server: pre-ping must replace them unseen
                burst = await asyncio.gather(*(client.get("/api/v1/jobs", headers=headers) for _ in range(15)))
                await asyncio.sleep(2)
                stop.set()
                await task
                ready = await client.get("/readyz")
            assert instance.alive()
    before = [t for t in timeline if t[0] < down_at]
    during = [t for t in timeline if down_at + 0.5 < t[0] < up_at]
    readyz_during = [t for t in during if t[1] == "/readyz"]
    print(
        "database restart: before "
        f"{sorted({t[2] for t in before})}, during readyz {sorted({t[2] for t in readyz_during})} "
        f"jobs {sorted({t[2] for t in during if t[1] != '/readyz'})}, "
        f"burst after {sorted({r.status_code for r in burst})}"
    )
    assert before
    assert {t[2] for t in before} == {200}
    assert readyz_during
    assert {t[2] for t in readyz_during} == {503}
    assert all(t[3].startswith("application/problem+json") for t in during)
    assert all(t[2] == 503 for t in during), "a request needing the database answers 503 while it is down"
    assert [r.status_code for r in burst] == [200] * 15
    assert ready.status_code == 200


@pytest.mark.postgres
async def test_sigkill_during_check_in_verification_leaves_it_referred_for_review_not_lost(
    tmp_path: Path, database_url: str, db: Database, make_case: Callable[..., Any]
) -> None:
    """The watch's check-in is accepted (its nonce spent) and verifying on A when A is killed. The watch's retry on B
    is refused as already answered, so nobody would ever decide it: the background pass refers it for review."""
    import base64

    from checkin.models import Alert, Checkin
    from checkin.sweeper import INTERRUPTED_AFTER, recover_interrupted
    from core.clock import utcnow
    from tests.checkin.conftest import checkin_body, photo
    from tests.devices import enrol_device

    reference, frame = photo("obama.jpg"), photo("obama2.jpg")
    case = await make_case()
    env = {"EMON_CHECKIN_REQUIRE_LIVENESS": "false", "EMON_BIOMETRICS_WORKERS": "1"}
    deployed = Deployment(tmp_path, database_url, EMON_CHECKIN_SWEEP_INTERVAL_SECONDS="3600", **env)
    try:
        a, b = deployed.start(), deployed.start()
        staff = deployed.bearer(case.caseworker)
        async with httpx.AsyncClient(base_url=a.base, timeout=60) as ca, httpx.AsyncClient(base_url=b.base) as cb:
            officer = await create_staff(db, Role.FIELD_OFFICER, team="north")
            watch = await enrol_device(cb, deployed.bearer(officer))  # the wearer's watch, signing every request
            enrolment = {
                "wearer_id": str(case.wearer_id),
                "device_id": watch.device_id,
                "photos": [base64.b64encode(reference).decode()],
            }
            enrolled = await cb.post("/api/v1/checkin/enrolments", json=enrolment, headers=staff, timeout=60)
            assert enrolled.status_code == 201, enrolled.text
            asked = await cb.post(f"/api/v1/checkin/wearers/{case.wearer_id}/prompts", headers=staff)
            assert asked.status_code == 201, asked.text
            pending = await watch.get(cb, "/api/v1/checkin/prompts/pending")
            assert pending.status_code == 200, pending.text
            prompt = pending.json()
            url = f"/api/v1/checkin/prompts/{prompt['id']}/checkins"
            body = checkin_body(prompt["nonce"], [frame])
            submitted = asyncio.create_task(watch.post(ca, url, body))
            state = await _wait_for_checkin(db)
            a.kill9()
            with contextlib.suppress(httpx.TransportError):
                await submitted
            retried = await watch.post(cb, url, body)  # the watch retries on the other instance (a fresh nonce)
    finally:
        deployed.stop_all()
    print(f"kill -9 during verification: check-in was {state} when killed; retry on B answered {retried.status_code}")
    if state != "PROCESSING":
        pytest.skip(f"the check-in was decided ({state}) before the kill landed; nothing was interrupted")
    assert retried.status_code == 409
    assert retried.json()["code"] == "NONCE_USED"
    recovered = await recover_interrupted(db, deployed.settings, now=utcnow() + INTERRUPTED_AFTER)
    async with db.transaction() as s:
        checkin = (await s.execute(select(Checkin))).scalar_one()
        alerts = (await s.execute(select(Alert.kind))).scalars().all()
    assert recovered == 1
    assert (checkin.status, "VERIFICATION_INTERRUPTED" in checkin.reasons) == ("REFERRED", True)
    assert alerts == ["REFERRED"]


async def _wait_for_checkin(db: Database) -> str:
    from checkin.models import Checkin

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with db.transaction() as s:
            status = (await s.execute(select(Checkin.status))).scalar_one_or_none()
        if status is not None:
            return str(status)
        await asyncio.sleep(0.02)
    raise AssertionError("the check-in never arrived")
