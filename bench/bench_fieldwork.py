"""Field work benchmark: the officer's job list against a hello-world baseline, and a 500-operation sync batch.

Both apps run as uvicorn subprocesses (one worker each) on 127.0.0.1, measured in the same run on the same machine.
The load generator is a small keep-alive HTTP/1.1 client on asyncio streams (cheaper than a full client library, so
it steals less CPU from the server it measures). Every run is bounded by ``--seconds`` per measurement.

    .venv/bin/python bench/bench_fieldwork.py                       # SQLite (a temporary file)
    .venv/bin/python bench/bench_fieldwork.py --database-url postgresql+asyncpg://user@host/db

With PostgreSQL a temporary database is created on that server and dropped afterwards. Goals: job list >= 0.25x the
hello-world rate; a 500-operation sync batch in under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bench.common import report as result  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402

UNUSABLE = "!"  # a password hash nothing matches: the bench issues tokens directly


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Connection:
    """One keep-alive HTTP/1.1 connection; enough for Content-Length responses from uvicorn."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(port: int, path: str, headers: dict[str, str], seconds: float, concurrency: int) -> dict[str, Any]:
    """Requests per second over ``seconds`` with ``concurrency`` connections (after a short warm-up)."""
    ok = errors = 0
    stop_at = 0.0

    async def worker() -> None:
        nonlocal ok, errors
        connection = Connection(port)
        try:
            while time.perf_counter() < stop_at:
                status, _ = await connection.request("GET", path, headers)
                if status == 200:
                    ok += 1
                else:
                    errors += 1
        finally:
            connection.close()

    stop_at = time.perf_counter() + min(1.0, seconds / 4)
    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up, discarded
    ok = errors = 0
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"requests": ok, "errors": errors, "seconds": round(elapsed, 2), "rps": round(ok / elapsed, 1)}


def bench_environment(database_url: str, workdir: Path) -> dict[str, str]:
    return {
        "EMON_DATABASE_URL": database_url,
        "EMON_SECURITY_JWT_KEYS_DIR": str(workdir / "keys"),
        "EMON_FIELDWORK_PHOTO_DIR": str(workdir / "photos"),
        "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMON_LOGGING_LEVEL": "WARNING",
        # the per-account API limit (600/min) would otherwise cap the measurement and refuse the sync batch
        "EMON_SECURITY_API_RATE_PER_MINUTE": "100000000",
    }


async def prepare(settings: Settings, jobs: int, devices: int) -> dict[str, Any]:
    """Staff, ``jobs`` submitted orders for team North, and ``devices`` devices in its stock."""
    import msgspec

    from core.db import Database
    from fieldwork import intake
    from fieldwork.models import Device
    from fieldwork.schemas import OrderIn
    from fieldwork.service import Ctx
    from security.actor import Actor, Role
    from security.models import StaffUser, Team
    from security.tokens import TokenService, load_keyring

    db = Database(settings)
    try:
        async with db.transaction() as session:
            north = Team(name="North", region="North")
            session.add(north)
            await session.flush()
            officer = StaffUser(
                username="bench.officer",
                display_name="Bench",
                role="field_officer",
                team_id=north.id,
                password_hash=UNUSABLE,
            )
            supervisor = StaffUser(
                username="bench.sup", display_name="Bench", role="supervisor", password_hash=UNUSABLE
            )
            session.add_all([officer, supervisor])
            await session.flush()
            ctx = Ctx(session=session, actor=Actor(id=supervisor.id, role=Role.SUPERVISOR), settings=settings)
            today = datetime.now(UTC).date()
            job_ids = []
            for n in range(jobs):
                body = {
                    "order_type": "COMMUNITY",
                    "region": "North",
                    "start_date": today.isoformat(),
                    "device_wearer": {
                        "nomis_id": f"B{n:04d}XX",
                        "first_name": "Bench",
                        "last_name": f"Wearer{n}",
                        "date_of_birth": "1990-01-01",
                        "sex": "MALE",
                        "gender": "MALE",
                    },
                    "addresses": [{"type": "PRIMARY", "line1": f"{n} Bench Road", "postcode": "LS1 1BA"}],
                    "conditions": [{"type": "ALCOHOL", "monitoring": "ALCOHOL_ABSTINENCE"}],
                    "notifying_organisation": {"name": "Bench Court"},
                }
                draft = await intake.create_draft(ctx, msgspec.convert(body, OrderIn))
                order = await intake.submit(ctx, draft.id, draft.version)
                job_ids.append(order.jobs[0])
            session.add_all(
                Device(serial=f"BENCH-{n:05d}", device_type="GPS_TAG", model="B", status="IN_STOCK", team_id=north.id)
                for n in range(devices)
            )
        tokens = TokenService(settings, load_keyring(settings))
        token, _ = tokens.issue_access_token(Actor(id=officer.id, role=Role.FIELD_OFFICER, team_id=north.id))
        return {"token": token, "jobs": job_ids}
    finally:
        await db.dispose()


async def service_breakdown(settings: Settings, rounds: int, page: int) -> dict[str, float]:
    """In-process (no HTTP): the job-list transaction with and without its audit append, to attribute the cost."""
    from sqlalchemy import select

    from core.db import Database
    from fieldwork import visits
    from fieldwork.service import Ctx
    from security.actor import Actor, Role
    from security.models import StaffUser

    db = Database(settings)
    try:
        async with db.transaction() as session:
            user = (await session.execute(select(StaffUser).where(StaffUser.username == "bench.officer"))).scalar_one()
        actor = Actor(id=user.id, role=Role.FIELD_OFFICER, team_id=user.team_id)

        async def skip_audit(*_args: Any, **_kwargs: Any) -> None:
            return None

        timings: dict[str, float] = {}
        for label, audited in (("with_audit_ms", True), ("without_audit_ms", False)):
            started = time.perf_counter()
            for _ in range(rounds):
                async with db.transaction() as session:
                    ctx = Ctx(session=session, actor=actor, settings=settings)
                    if not audited:
                        object.__setattr__(ctx, "audit", skip_audit)
                    await visits.list_jobs(ctx, None, page, 0)
            timings[label] = round((time.perf_counter() - started) / rounds * 1000, 2)
        return timings
    finally:
        await db.dispose()


def sync_batch(jobs: list[uuid.UUID], size: int) -> bytes:
    """Half stock moves (each device taken once), half failed visits (a chain of versions per job)."""
    operations: list[dict[str, Any]] = []
    visited_at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    moves = size // 2
    for n in range(moves):
        operations.append(
            {
                "kind": "STOCK_MOVE",
                "op_id": str(uuid.uuid4()),
                "serial": f"BENCH-{n:05d}",
                "move": {"version": 1, "action": "ALLOCATE"},
            }
        )
    for n in range(size - moves):
        job = jobs[n % len(jobs)]
        operations.append(
            {
                "kind": "FAILED_VISIT",
                "op_id": str(uuid.uuid4()),
                "job_id": str(job),
                "visit": {"version": 1 + n // len(jobs), "outcome": "NO_ACCESS", "visited_at": visited_at},
            }
        )
    return json.dumps({"operations": operations}).encode()


def start_server(target: str, port: int, env: dict[str, str], factory: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--workers", "1"]
    if factory:
        command.append("--factory")
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)})


async def wait_ready(port: int, path: str, within: float = 30) -> None:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        try:
            connection = Connection(port)
            status, _ = await connection.request("GET", path, {})
            connection.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not become ready")


async def admin_execute(server_url: str, statement: str) -> None:
    engine = create_async_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> int:
    from api import migrate

    workdir = Path(tempfile.mkdtemp(prefix="emon-bench-"))
    temporary_pg: str | None = None
    if args.database_url:
        temporary_pg = f"emon_bench_{uuid.uuid4().hex[:10]}"
        await admin_execute(args.database_url, f'CREATE DATABASE "{temporary_pg}"')
        url = make_url(args.database_url).set(database=temporary_pg).render_as_string(hide_password=False)
        backend = "postgresql"
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        backend = "sqlite"
    env = bench_environment(url, workdir)
    settings = load_settings(env, dotenv=None)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(migrate.upgrade, settings)
        data = await prepare(settings, args.jobs, args.sync_ops)
        emon_port, hello_port = free_port(), free_port()
        servers.append(start_server("api.asgi:create", emon_port, env, factory=True))
        servers.append(start_server("bench.hello:app", hello_port, {}, factory=False))
        await wait_ready(emon_port, "/healthz")
        await wait_ready(hello_port, "/")
        auth = {"Authorization": f"Bearer {data['token']}"}

        hello = await load(hello_port, "/", {}, args.seconds, args.concurrency)
        jobs = await load(emon_port, f"/api/v1/jobs?limit={args.page}", auth, args.seconds, args.concurrency)

        body = sync_batch(data["jobs"], args.sync_ops)
        connection = Connection(emon_port)
        headers = {**auth, "Content-Type": "application/json"}
        started = time.perf_counter()
        status, answer = await connection.request("POST", "/api/v1/sync", headers, body)
        sync_seconds = time.perf_counter() - started
        outcome = json.loads(answer)
        started = time.perf_counter()
        replay_status, replay = await connection.request("POST", "/api/v1/sync", headers, body)
        replay_seconds = time.perf_counter() - started
        connection.close()
        replayed = json.loads(replay)

        breakdown = await service_breakdown(settings, 100, args.page)
        ratio = jobs["rps"] / hello["rps"] if hello["rps"] else 0.0
        report = {
            "backend": backend,
            "server": "uvicorn subprocess, 1 worker each, 127.0.0.1",
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "concurrency": args.concurrency,
            "hello_world": hello,
            "job_list": {**jobs, "page_size": args.page, "jobs_in_scope": args.jobs},
            "job_list_vs_hello": round(ratio, 3),
            "job_list_service_in_process": breakdown,
            "sync": {
                "operations": args.sync_ops,
                "status": status,
                "applied": outcome.get("applied"),
                "seconds": round(sync_seconds, 3),
                "ops_per_second": round(args.sync_ops / sync_seconds, 1),
                "replay_status": replay_status,
                "replayed": replayed.get("replayed"),
                "replay_seconds": round(replay_seconds, 3),
            },
            "goals": {
                "job_list_at_least_0.25x_hello": ratio >= 0.25,
                "sync_500_under_2s": sync_seconds < 2.0 and outcome.get("applied") == args.sync_ops,
            },
        }
        print(json.dumps(report, indent=2))
        result(
            f"officer job list ({backend})",
            jobs["rps"],
            "req/s",
            baseline="hello-world req/s",
            baseline_value=hello["rps"],
            ratio=ratio,
            goal=">= 0.25x",
        )
        result(f"{args.sync_ops}-operation sync batch ({backend})", sync_seconds, "s", goal="< 2 s")
        return 0
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if temporary_pg and args.database_url:
            await admin_execute(args.database_url, f'DROP DATABASE IF EXISTS "{temporary_pg}" WITH (FORCE)')


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="", help="PostgreSQL server URL (default: a temporary SQLite file)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections of the load generator")
    parser.add_argument("--jobs", type=int, default=50, help="open jobs in the officer's scope")
    parser.add_argument("--page", type=int, default=20, help="page size of the job list request")
    parser.add_argument("--sync-ops", type=int, default=500, help="operations in the sync batch")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
