"""Benchmark: check-ins through the API against the biometric library alone, in the same run.

Prints figures and ratios measured in this run (never asserted by the tests):

1. verification throughput through the API (JSON upload, checks, encryption, database, audit, the same pool of
   worker processes) against ``verify_checkin`` called directly in a pool of the same size, on the same photos
   (goal: the API reaches 0.85 of the library's throughput);
2. ``/healthz`` latency (p50, p99) sampled while the API keeps every worker busy (goal: p99 < 50 ms);

The API runs as the real server (``emon serve``: uvicorn, one process, its verification pool) on a local port and is
called over TCP by a watch enrolled through the device API, signing every request with its Ed25519 key as a real
watch does (its check-in rate limit raised for the run);
3. the resident memory of each verification worker (goal: < 400 MB);
4. with ``--pg-url``: the missed-prompt sweep over 100,000 wearers x 5 expired prompts on PostgreSQL, prompts
   bulk-inserted with set-based SQL (goal: <= 10 s).

    .venv/bin/python bench/bench_checkin.py [--checkins 24] [--workers 2] [--pg-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.common import report as result  # noqa: E402
from tests.faces import face_path  # noqa: E402

PROBES = ("obama2.jpg", "obama3.jpg", "obama.jpg")


def _photo(name: str) -> bytes:
    path = face_path(name)
    if path is None:
        sys.exit(f"test photo {name} not found (run scripts/fetch_test_faces.py)")
    return path.read_bytes()


def library_throughput(frames: list[bytes], reference: bytes, count: int, workers: int) -> float:
    """verify_checkin called directly in a spawned pool of the same size: check-ins per second."""
    from biometrics.pipeline import analyse_enrolment, verify_checkin
    from checkin.pool import init_worker, policy_from
    from tests.conftest import make_settings

    policy = policy_from(make_settings("sqlite+aiosqlite:///:memory:"))
    context = mp.get_context("spawn")  # the same workers as the server's pool: spawned, warmed, same priority
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker, initargs=(policy,)) as pool:
        ref = pool.submit(analyse_enrolment, reference, policy).result().encoding
        list(pool.map(verify_checkin, [[frames[0]]] * workers, [[ref]] * workers, [[]] * workers, [None] * workers))
        start = time.perf_counter()
        futures = [
            pool.submit(verify_checkin, [frames[i % len(frames)]], [ref], [], None, policy) for i in range(count)
        ]
        for future in futures:
            future.result()
        return count / (time.perf_counter() - start)


def _children_rss_mb(parent: int) -> dict[int, float]:
    """Resident memory of the direct children of a process (the verification workers of the server)."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid != parent or b"resource_tracker" in (entry / "cmdline").read_bytes():
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found[int(entry.name)] = int(line.split()[1]) / 1024
    return found


async def api_run(frames: list[bytes], reference: bytes, count: int, workers: int) -> dict[str, object]:
    """The real server (uvicorn, one process, its own pool of workers) over TCP, as a watch would reach it."""
    import socket
    import subprocess

    import httpx

    from api.migrate import upgrade_connection
    from checkin.models import Prompt
    from core.clock import utcnow
    from core.db import Database
    from fieldwork.models import Order, OrderVersion, Wearer
    from security.actor import Actor, Role
    from security.models import StaffUser
    from security.tokens import TokenService, load_keyring
    from tests.checkin.conftest import checkin_body, order_content
    from tests.conftest import make_settings
    from tests.devices import enrol_device

    folder = tempfile.mkdtemp(prefix="emon-bench-")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "EMON_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/bench.db",
        "EMON_BIOMETRICS_WORKERS": str(workers),
        "EMON_CHECKIN_REQUIRE_LIVENESS": "false",
        "EMON_CHECKIN_SWEEP_INTERVAL_SECONDS": "3600",
        "EMON_SECURITY_JWT_KEYS_DIR": f"{folder}/keys",
        "EMON_SECURITY_CHECKIN_RATE_PER_MINUTE": "1000000",  # one watch submits every check-in of the run
        "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1",
        "EMON_LOGGING_LEVEL": "WARNING",
    }
    settings = make_settings(env["EMON_DATABASE_URL"], **env)
    tokens = TokenService(settings, load_keyring(settings))  # creates the signing key the server will load
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: upgrade_connection(c, settings))
    async with db.transaction() as s:
        staff = StaffUser(username="bench", display_name="Bench", role="caseworker", password_hash="!")  # noqa: S106 - no password: a bench account
        fitter = StaffUser(username="bench-officer", display_name="Bench", role="field_officer", password_hash="!")  # noqa: S106
        s.add_all([staff, fitter])
        await s.flush()
        wearer = Wearer(
            caseworker_id=staff.id, aliases=[], disabilities=[], interpreter_required=False, no_fixed_abode=False
        )
        s.add(wearer)
        await s.flush()
        order = Order(wearer_id=wearer.id, status="ACTIVE", current_number=1, activated_at=utcnow())
        s.add(order)
        await s.flush()
        s.add(
            OrderVersion(
                order_id=order.id, number=1, request_type="REQUEST", status="SUBMITTED", content=order_content()
            )
        )
    caseworker = Actor(id=staff.id, role=Role.CASEWORKER)
    officer = Actor(id=fitter.id, role=Role.FIELD_OFFICER)
    root = ROOT
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("EMON_")}, **env, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, object] = {}
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

            def auth(actor: Actor) -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens.issue_access_token(actor)[0]}"}

            watch = await enrol_device(client, auth(officer))  # type: ignore[arg-type]  # an httpx client
            enrolled = await client.post(
                "/api/v1/checkin/enrolments",
                json={
                    "wearer_id": str(wearer.id),
                    "device_id": watch.device_id,
                    "photos": [base64.b64encode(reference).decode()],
                },
                headers=auth(caseworker),
            )
            assert enrolled.status_code == 201, enrolled.text
            prompts = []
            async with db.transaction() as s:
                now = utcnow()
                for _ in range(2 * count + workers):
                    prompt = Prompt(
                        wearer_id=wearer.id,
                        order_id=order.id,
                        kind="ON_DEMAND",
                        prompt_date=now.date(),
                        issue_at=now - timedelta(seconds=5),
                        expires_at=now + timedelta(hours=1),
                        nonce=os.urandom(32).hex(),
                        challenge="NOD",
                        status="PENDING",
                    )
                    s.add(prompt)
                    prompts.append(prompt)

            # bodies are encoded before the clock starts: the client's JSON work is not the server's (signing, a
            # SHA-256 of the body and one Ed25519 signature per request, is part of each request, as on a watch)
            bodies = [
                json.dumps(checkin_body(p.nonce, [frames[i % len(frames)]])).encode() for i, p in enumerate(prompts)
            ]

            async def one(index: int) -> None:
                prompt = prompts[index]
                url = f"/api/v1/checkin/prompts/{prompt.id}/checkins"
                body = bodies[index]
                response = await client.post(url, content=body, headers=watch.signed_headers("POST", url, body))
                if response.status_code == 202:
                    status_url = response.json()["status_url"]
                    for _ in range(100_000):  # poll the status URL as a watch would
                        polled = await client.get(status_url, headers=watch.signed_headers("GET", status_url))
                        if polled.json()["status"] != "PROCESSING":
                            break
                        await asyncio.sleep(0.05)
                elif response.status_code != 200:
                    raise RuntimeError(f"check-in refused: {response.status_code} {response.text}")

            await asyncio.gather(*(one(2 * count + i) for i in range(workers)))  # warm every worker
            latencies: list[float] = []
            done = asyncio.Event()

            async def probe_health() -> None:
                async with httpx.AsyncClient(base_url=base, timeout=60) as probe:
                    while not done.is_set():
                        start = time.perf_counter()
                        response = await probe.get("/healthz")
                        latencies.append((time.perf_counter() - start) * 1000)
                        assert response.status_code == 200
                        await asyncio.sleep(0.02)

            limit = asyncio.Semaphore(workers * 2)  # a job running and one queued per worker: every answer a 200

            async def bounded(index: int) -> None:
                async with limit:
                    await one(index)

            start = time.perf_counter()  # throughput first, with nothing else calling
            await asyncio.gather(*(bounded(i) for i in range(count)))
            results["api_per_second"] = count / (time.perf_counter() - start)
            prober = asyncio.create_task(probe_health())  # then health latency while verification fills the CPU
            await asyncio.gather(*(bounded(count + i) for i in range(count)))
            done.set()
            await prober
            latencies.sort()
            results["healthz_samples"] = len(latencies)
            results["healthz_p50_ms"] = statistics.median(latencies)
            results["healthz_p99_ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            results["worker_rss_mb"] = _children_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
        await db.dispose()
    return results


async def sweep_run(pg_url: str, wearers: int, per_wearer: int) -> dict[str, float]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from api.migrate import upgrade_connection
    from checkin.sweeper import sweep
    from core.db import Database
    from tests.conftest import make_settings

    name = f"emon_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    settings = make_settings(url)
    db = Database(settings)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: upgrade_connection(c, settings))
        start = time.perf_counter()
        async with db.transaction() as s:
            await s.execute(
                text(
                    """
                    INSERT INTO wearers (id, version, aliases, disabilities, interpreter_required, no_fixed_abode,
                                         created_at, updated_at)
                    SELECT gen_random_uuid(), 1, '[]', '[]', false, false, now(), now() FROM generate_series(1, :n)
                    """
                ),
                {"n": wearers},
            )
            await s.execute(
                text(
                    """
                    INSERT INTO orders (id, version, wearer_id, status, current_number, created_at, updated_at)
                    SELECT gen_random_uuid(), 1, id, 'ACTIVE', 1, now(), now() FROM wearers
                    """
                )
            )
            await s.execute(
                text(
                    """
                    INSERT INTO checkin_prompts (id, wearer_id, order_id, kind, window_key, prompt_date, issue_at,
                                                 expires_at, nonce, challenge, status, created_at)
                    SELECT gen_random_uuid(), o.wearer_id, o.id, 'SCHEDULED', 'W' || w, current_date,
                           now() - interval '1 hour', now() - interval '50 minutes',
                           md5(random()::text) || md5(random()::text), 'NOD', 'PENDING', now()
                    FROM orders o CROSS JOIN generate_series(1, :k) AS w
                    """
                ),
                {"k": per_wearer},
            )
        seeded = time.perf_counter() - start
        async with db.engine.connect() as conn:  # what autovacuum would do after a bulk load
            await conn.execute(text("COMMIT"))
            await conn.execute(text("VACUUM ANALYZE"))
        start = time.perf_counter()
        result = await sweep(db)
        swept = time.perf_counter() - start
        async with db.engine.connect() as conn:
            alerts = (await conn.execute(text("SELECT count(*) FROM checkin_alerts"))).scalar_one()
        return {
            "prompts": float(wearers * per_wearer),
            "seed_s": seeded,
            "sweep_s": swept,
            "marked": float(result.marked),
            "alerts": float(alerts),
        }
    finally:
        await db.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkins", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-url", default=os.environ.get("EMON_TEST_DATABASE_URL", ""))
    parser.add_argument("--wearers", type=int, default=100_000)
    parser.add_argument("--skip-verification", action="store_true")
    args = parser.parse_args()

    if not args.skip_verification:
        reference = _photo("obama.jpg")
        frames = [_photo(name) for name in PROBES[:2]]
        # library, API, library again: other load on a shared machine drifts, so the API is compared with the mean
        before = library_throughput(frames, reference, args.checkins, args.workers)
        api = asyncio.run(api_run(frames, reference, args.checkins, args.workers))
        after = library_throughput(frames, reference, args.checkins, args.workers)
        library = (before + after) / 2
        print(f"verification, {args.checkins} single-frame check-ins, {args.workers} worker processes:")
        print(f"  library directly : {library:6.2f} check-ins/s (before {before:.2f}, after {after:.2f})")
        print(f"  through the API  : {api['api_per_second']:6.2f} check-ins/s")
        print(f"  ratio API/library: {api['api_per_second'] / library:6.2f}  (goal >= 0.85)")  # type: ignore[operator]
        print(
            f"/healthz while verifying: p50 {api['healthz_p50_ms']:.1f} ms, p99 {api['healthz_p99_ms']:.1f} ms "
            f"over {api['healthz_samples']} requests (goal p99 < 50 ms)"
        )
        rss = api["worker_rss_mb"]
        print("worker resident memory: " + ", ".join(f"pid {pid}: {mb:.0f} MB" for pid, mb in rss.items()))  # type: ignore[union-attr]
        per_second = float(api["api_per_second"])  # type: ignore[arg-type]
        result(
            "check-in verification through the API",
            per_second,
            "check-ins/s",
            baseline="library check-ins/s",
            baseline_value=library,
            ratio=per_second / library,
            goal=">= 0.85x",
        )
        result("/healthz p99 while verifying", float(api["healthz_p99_ms"]), "ms", goal="< 50 ms")  # type: ignore[arg-type]
        result("verification worker peak RSS", max(rss.values()), "MB", goal="< 400 MB")  # type: ignore[attr-defined]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work shares them)")
    if args.pg_url:
        figures = asyncio.run(sweep_run(args.pg_url, args.wearers, 5))
        print(
            f"sweep on PostgreSQL: {figures['prompts']:.0f} expired prompts ({args.wearers} wearers x 5) marked in "
            f"{figures['sweep_s']:.2f} s (goal <= 10 s); marked {figures['marked']:.0f}, "
            f"alerts {figures['alerts']:.0f}; "
            f"set-based seeding took {figures['seed_s']:.1f} s"
        )
        result(f"missed-prompt sweep, {args.wearers} wearers x 5 (PostgreSQL)", figures["sweep_s"], "s", goal="<= 10 s")
    else:
        print("sweep: skipped (give --pg-url or EMON_TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
