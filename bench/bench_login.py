"""Login throughput and event-loop responsiveness, in process, on loopback only.

    .venv/bin/python bench/bench_login.py [--logins 48] [--concurrency 4]

1. Raw: ``argon2.PasswordHasher().verify`` with the configured parameters, ``concurrency`` threads.
2. App: the password step (``POST /api/v1/auth/login``) through the whole ASGI app, ``concurrency`` clients.
   Goal: app throughput >= 0.8x raw (hashing is the cost; everything else must be small).
3. Responsiveness: ``/healthz`` polled every 10 ms during a burst of logins. Goal: p99 < 50 ms (hashing runs in
   worker threads and releases the GIL, so the event loop keeps answering).

Prints figures and ratios; asserts nothing. A temporary SQLite database, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from argon2 import PasswordHasher

from api.app import create_app
from api.migrate import upgrade
from bench.common import report
from core.db import Database
from core.settings import Settings, load_settings
from security.demo import DEMO_PASSWORD, seed_accounts

BASE = "http://127.0.0.1"


def _settings(folder: Path) -> Settings:
    return load_settings(
        {
            "EMON_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
            "EMON_SECURITY_JWT_KEYS_DIR": str(folder / "keys"),
            "EMON_SECURITY_API_RATE_PER_MINUTE": "1000000",
            "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1",
            "EMON_LOGGING_LEVEL": "WARNING",
        },
        dotenv=None,
    )


def raw_verify_rate(settings: Settings, logins: int, concurrency: int) -> float:
    sec = settings.security
    hasher = PasswordHasher(time_cost=sec.argon2_time_cost, memory_cost=sec.argon2_memory_cost_kib, parallelism=1)
    stored = hasher.hash(DEMO_PASSWORD)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: hasher.verify(stored, DEMO_PASSWORD), range(logins)))
    return logins / (time.perf_counter() - started)


async def app_login_rate(client: httpx.AsyncClient, logins: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)
    accounts = ["officer.demo", "caseworker.demo", "supervisor.demo", "admin.demo"]

    async def one(i: int) -> None:
        async with gate:
            response = await client.post(
                "/api/v1/auth/login", json={"username": accounts[i % len(accounts)], "password": DEMO_PASSWORD}
            )
            response.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(logins)))
    return logins / (time.perf_counter() - started)


async def healthz_during_burst(client: httpx.AsyncClient, logins: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    burst = asyncio.create_task(app_login_rate(client, logins, concurrency))
    while not burst.done():
        started = time.perf_counter()
        (await client.get("/healthz")).raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.01)
    await burst
    return latencies


async def main(logins: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = _settings(folder)
        await asyncio.to_thread(upgrade, settings)
        db = Database(settings)
        async with db.transaction() as session:
            await seed_accounts(session, settings)
        await db.dispose()

        raw = await asyncio.to_thread(raw_verify_rate, settings, logins, concurrency)
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            await app_login_rate(client, 4, 2)  # warm up: dummy hash, connections, caches
            through_app = await app_login_rate(client, logins, concurrency)
            latencies = await healthz_during_burst(client, logins, concurrency)
    sec = settings.security
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    print(f"argon2id m={sec.argon2_memory_cost_kib} KiB t={sec.argon2_time_cost} p={sec.argon2_parallelism}")
    print(f"logins={logins} concurrency={concurrency}")
    print(f"raw PasswordHasher.verify: {raw:8.1f} /s")
    print(f"app POST /auth/login:      {through_app:8.1f} /s   ratio {through_app / raw:.2f}x (goal >= 0.80x)")
    print(
        f"/healthz during burst: n={len(latencies)} median={statistics.median(latencies):.1f} ms "
        f"p99={p99:.1f} ms max={max(latencies):.1f} ms (goal p99 < 50 ms)"
    )
    report(
        "login through the app",
        through_app,
        "/s",
        baseline="raw argon2 verify /s",
        baseline_value=raw,
        ratio=through_app / raw,
        goal=">= 0.8x",
    )
    report("/healthz p99 during a login burst", p99, "ms", goal="< 50 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(max(4, min(args.logins, 1000)), max(1, min(args.concurrency, 32))))
