"""Load test: a mixed workload held for a while against a real server on loopback, reporting throughput, latency
percentiles per operation and errors (goal: none).

    .venv/bin/python bench/loadtest.py [--seconds 60] [--users 16] [--database-url postgresql+asyncpg://...]
                                       [--redis-url redis://...] [--server-workers 1]

The server is started here (uvicorn in a subprocess, as ``make run`` would, with its own temporary SQLite database
unless ``--database-url`` names an empty PostgreSQL database) and stopped at the end. Every virtual user loops over a
weighted mix: ``/healthz``; an officer's job list; a sync batch of one failed visit (the officer's offline write);
the password step of a login (argon2id, the expensive one); and, when the check-in package is present, a watch's
prompt poll. The per-address API limit is raised for the run: all users come from 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import ROOT, free_port, report, summary_ms

OFFICERS = 8
JOBS_PER_OFFICER = 6


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)

    def record(self, name: str, started: float, response: httpx.Response | None, ok: bool) -> None:
        self.latencies[name].append(time.perf_counter() - started)
        if not ok:
            self.errors[name] += 1
            if len(self.samples) < 10:
                detail = f"{response.status_code} {response.text[:200]}" if response is not None else "no response"
                self.samples.append(f"{name}: {detail}")


@dataclass
class World:
    base: str
    officers: list[dict[str, str]]
    jobs: list[list[list[Any]]]  # per officer: [job_id, version]
    login: dict[str, str]
    watch: Any  # a signing watch (tests.devices.SignedDevice), when the check-in routes are present


@contextlib.contextmanager
def server(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")}
    environ.update(env)
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.asgi:create", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    with log.open("wb") as sink:  # a file, not a pipe nobody reads: a full pipe would stall the server's logging
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peak_rss_mib(pid: int) -> dict[str, float]:
    """VmHWM of the server and every process under it (workers, verification pool)."""

    def children(p: int) -> list[int]:
        found: list[int] = []
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                for child in map(int, (task / "children").read_text().split()):
                    found += [child, *children(child)]
        return found

    peaks: dict[str, float] = {}
    for index, p in enumerate([pid, *children(pid)]):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks["server" if index == 0 else f"child-{index}"] = int(line.split()[1]) / 1024
    return peaks


def _run_cli(env: dict[str, str], *args: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")}
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=environ, check=True, capture_output=True, text=True
    )
    return done.stdout


async def build_world(base: str, env: dict[str, str]) -> World:
    """Staff tokens minted with the server's keys; orders and jobs created through the API, as intake would."""
    from core.db import Database
    from core.settings import load_settings
    from security.actor import Role
    from security.demo import DEMO_PASSWORD
    from security.tokens import TokenService, load_keyring
    from tests.fieldwork.conftest import complete_order
    from tests.proof.servers import create_staff

    settings = load_settings(env, dotenv=None)
    tokens = TokenService(settings, load_keyring(settings))
    db = Database(settings)

    def bearer(actor: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue_access_token(actor)[0]}"}

    try:
        caseworker = bearer(await create_staff(db, Role.CASEWORKER, team="North"))
        officers = [bearer(await create_staff(db, Role.FIELD_OFFICER, team="North")) for _ in range(OFFICERS)]
    finally:
        await db.dispose()
    jobs: list[list[list[Any]]] = [[] for _ in officers]
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for i in range(OFFICERS * JOBS_PER_OFFICER):
            body = complete_order()
            body["device_wearer"] = {**body["device_wearer"], "last_name": f"Load{i}"}
            order = (await client.post("/api/v1/orders", json=body, headers=caseworker)).json()
            submitted = await client.post(
                f"/api/v1/orders/{order['id']}/submit", json={"version": order["version"]}, headers=caseworker
            )
            job_id = submitted.json()["jobs"][0]
            owner = i % OFFICERS
            job = (await client.get(f"/api/v1/jobs/{job_id}", headers=officers[owner])).json()
            jobs[owner].append([job_id, job["version"]])
    watch = None
    if any(r.startswith("/api/v1/checkin") for r in (await _paths(base))):
        watch = await _bound_watch(base, settings, officers[0])
    return World(
        base=base,
        officers=officers,
        jobs=jobs,
        login={"username": "officer.demo", "password": DEMO_PASSWORD},
        watch=watch,
    )


async def _bound_watch(base: str, settings: Any, officer: dict[str, str]) -> Any:
    """A watch enrolled through the device API (its own Ed25519 key; every request signed), bound to a wearer."""
    from sqlalchemy import select

    from core.db import Database
    from fieldwork.models import Wearer
    from security.devices import bind_watch_to_wearer
    from tests.devices import enrol_device

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        watch = await enrol_device(client, officer)
        db = Database(settings)
        try:
            async with db.transaction() as session:
                wearer = (await session.execute(select(Wearer.id).limit(1))).scalar_one()
                await bind_watch_to_wearer(session, uuid.UUID(watch.device_id), wearer)
        finally:
            await db.dispose()
        await watch.fetch_token(client)
    return watch


async def _paths(base: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return list((await client.get("/schema/openapi.json")).json()["paths"])


async def user(client: httpx.AsyncClient, world: World, index: int, stop: float, stats: Stats) -> None:
    officer = world.officers[index % len(world.officers)]
    my_jobs = world.jobs[index % len(world.jobs)]
    rng = random.Random(index)

    async def timed(
        name: str, call: Callable[[], Awaitable[httpx.Response]], ok: Callable[[httpx.Response], bool]
    ) -> Any:
        started = time.perf_counter()
        try:
            response = await call()
        except httpx.HTTPError:
            stats.record(name, started, None, False)
            return None
        good = ok(response)
        stats.record(name, started, response, good)
        return response if good else None

    # a user of the same officer as another shares its jobs: each takes every n-th job so versions do not race
    share = index // len(world.officers)
    while time.perf_counter() < stop:
        roll = rng.random()
        if roll < 0.30:
            await timed("healthz", lambda: client.get("/healthz"), lambda r: r.status_code == 200)
        elif roll < 0.65:
            await timed("job list", lambda: client.get("/api/v1/jobs", headers=officer), lambda r: r.status_code == 200)
        elif roll < 0.85 and share == 0 and my_jobs:
            job = my_jobs[rng.randrange(len(my_jobs))]
            op = {
                "kind": "FAILED_VISIT",
                "op_id": str(uuid.uuid4()),
                "job_id": job[0],
                "visit": {"version": job[1], "outcome": "WEARER_ABSENT", "visited_at": datetime.now(UTC).isoformat()},
            }
            response = await timed(
                "sync batch",
                lambda op=op: client.post("/api/v1/sync", json={"operations": [op]}, headers=officer),  # type: ignore[misc]
                lambda r: r.status_code == 200 and r.json()["results"][0]["outcome"] == "APPLIED",
            )
            if response is not None:
                job[1] = response.json()["results"][0]["result"]["job_version"]
        elif roll < 0.88 and world.watch is not None:
            await timed(
                "watch prompt poll",
                lambda watch=world.watch: watch.get(client, "/api/v1/checkin/prompts/pending"),  # type: ignore[misc]
                lambda r: r.status_code in (200, 204),
            )
        elif roll < 0.90:
            await timed(
                "login (password step)",
                lambda: client.post("/api/v1/auth/login", json=world.login),
                lambda r: r.status_code == 201,
            )
        else:
            await timed(
                "officer profile",
                lambda: client.get("/api/v1/auth/me", headers=officer),
                lambda r: r.status_code == 200,
            )


async def drive(world: World, users: int, seconds: float) -> tuple[Stats, float]:
    stats = Stats()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=world.base, timeout=30, limits=limits) as client:
        started = time.perf_counter()
        stop = started + seconds
        await asyncio.gather(*(user(client, world, i, stop, stats) for i in range(users)))
        took = time.perf_counter() - started
    return stats, took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("EMON_LOAD_SECONDS", "60")))
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--server-log", default="bench/results/loadtest-server-errors.log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emon-load-") as folder:
        env = {
            "EMON_DATABASE_URL": args.database_url or f"sqlite+aiosqlite:///{folder}/load.db",
            "EMON_SECURITY_JWT_KEYS_DIR": f"{folder}/keys",
            "EMON_FIELDWORK_PHOTO_DIR": f"{folder}/photos",
            "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMON_LOGGING_LEVEL": "WARNING",
            "EMON_SECURITY_API_RATE_PER_MINUTE": "10000000",
            "EMON_SECURITY_LOGIN_MAX_FAILURES": "1000000",
        }
        if args.redis_url:
            env.update({"EMON_REDIS_URL": args.redis_url, "EMON_REDIS_PREFIX": f"load-{uuid.uuid4().hex[:8]}"})
        _run_cli(env, "db", "upgrade")
        _run_cli(env, "demo", "seed")
        log = Path(folder) / "server.log"
        with server(env, args.server_workers, log) as (base, process):
            world = asyncio.run(build_world(base, env))
            stats, took = asyncio.run(drive(world, args.users, args.seconds))
            peaks = peak_rss_mib(process.pid)
        server_errors = [line for line in log.read_text(errors="replace").splitlines() if '"level": "error"' in line]
        if server_errors:
            Path(args.server_log).write_text("\n".join(server_errors))
            print(f"{len(server_errors)} server error lines written to {args.server_log}")
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    backend = "postgresql" if args.database_url else "sqlite"
    setup = f"{args.users} users, {args.seconds:.0f} s, {backend}, {args.server_workers} server worker(s)"
    report("load: throughput", total / took, "req/s", goal="report", note=setup)
    report("load: errors", errors, "count", goal="0", note="; ".join(stats.samples)[:300])
    all_samples = [s for v in stats.latencies.values() for s in v]
    overall = summary_ms(all_samples)
    for p in ("p50", "p95", "p99"):
        report(f"load: all {p}", overall[p], "ms")
    for name, samples in sorted(stats.latencies.items()):
        figures = summary_ms(samples)
        report(
            f"load: {name}",
            figures["p95"],
            "ms p95",
            note=f"n={len(samples)} p50={figures['p50']:.1f} p99={figures['p99']:.1f} "
            f"errors={stats.errors.get(name, 0)}",
        )
    for name, mib in peaks.items():
        report(f"load: peak RSS {name}", mib, "MiB")
    for sample in stats.samples:
        print("error sample:", sample)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
