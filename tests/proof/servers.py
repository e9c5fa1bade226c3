"""Real app instances in subprocesses (uvicorn on 127.0.0.1), sharing one database, one Redis and one key folder,
as a deployment of several stateless instances does. Each instance stops with its test (and kills itself if the
test process dies: it is started in its own process group and torn down by the fixture)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, free_port
from core.db import Database
from core.settings import Settings, load_settings
from security.actor import Actor, Role
from security.tokens import TokenService, load_keyring


class Instance:
    def __init__(self, process: subprocess.Popen[bytes], base: str, log: Path) -> None:
        self.process = process
        self.base = base
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole instance (uvicorn and any worker processes it started), with no chance to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def peak_rss_mib(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of the server process and of each process it started, in MiB."""
        peaks: dict[str, float] = {}
        for pid, name in [(self.pid, "server"), *((c, f"child {c}") for c in _children(self.pid))]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[name] = int(line.split()[1]) / 1024
        return peaks


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            for child in map(int, text):
                found.append(child)
                found.extend(_children(child))
    return found


class Deployment:
    """Settings shared by every instance: the database, Redis (with a prefix of its own), the JWT key folder."""

    def __init__(self, folder: Path, database_url: str, redis_url: str = "", **extra: str) -> None:
        self.folder = folder
        self.env = {
            "EMON_DATABASE_URL": database_url,
            "EMON_SECURITY_JWT_KEYS_DIR": str(folder / "keys"),
            "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMON_LOGGING_LEVEL": "WARNING",
            "EMON_FIELDWORK_PHOTO_DIR": str(folder / "photos"),
            **extra,
        }
        if redis_url:
            self.env["EMON_REDIS_URL"] = redis_url
            self.env["EMON_REDIS_PREFIX"] = f"proof-{uuid.uuid4().hex[:10]}"
        self.env = {k: v for k, v in self.env.items() if _known(k)}
        self.settings: Settings = load_settings(self.env, dotenv=None)
        self.tokens = TokenService(self.settings, load_keyring(self.settings))
        self.instances: list[Instance] = []

    def migrate(self) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")}
        environ.update(self.env)
        subprocess.run(
            [sys.executable, "-m", "api.cli", "db", "upgrade"], cwd=ROOT, env=environ, check=True, capture_output=True
        )

    def database(self) -> Database:
        return Database(self.settings)

    def bearer(self, actor: Actor) -> dict[str, str]:
        token, _ = self.tokens.issue_access_token(actor)
        return {"Authorization": f"Bearer {token}"}

    def start(self, *, timeout: float = 90, **extra: str) -> Instance:
        port = free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")}
        environ.update(self.env)
        environ.update(extra)
        log = self.folder / f"instance-{port}.log"
        command = [sys.executable, "-m", "uvicorn", "--factory", "api.asgi:create", "--host", "127.0.0.1"]
        command += [
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "5",
        ]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environ, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        instance = Instance(process, f"http://127.0.0.1:{port}", log)
        self.instances.append(instance)
        deadline = time.monotonic() + timeout
        while True:
            if not instance.alive():
                raise RuntimeError(f"instance exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(instance.base + "/healthz", timeout=1).status_code == 200:
                    return instance
            if time.monotonic() > deadline:
                instance.kill9()
                raise RuntimeError(f"instance did not start in time: {log.read_text()[-2000:]}")
            time.sleep(0.2)

    def stop_all(self) -> None:
        for instance in self.instances:
            instance.stop()


def _known(name: str) -> bool:
    from core.settings import env_names

    return name in env_names()


@contextlib.contextmanager
def deployment(folder: Path, database_url: str, redis_url: str = "", **extra: str) -> Iterator[Deployment]:
    deployed = Deployment(folder, database_url, redis_url, **extra)
    deployed.migrate()
    try:
        yield deployed
    finally:
        deployed.stop_all()


async def create_staff(db: Database, role: Role, team: str = "proof") -> Actor:
    """A staff account (no password: tokens are minted directly) in a team."""
    from sqlalchemy import select

    from security.models import StaffUser, Team

    async with db.transaction() as s:
        team_row = (await s.execute(select(Team).where(Team.name == team))).scalar_one_or_none()
        if team_row is None:
            team_row = Team(name=team, region=team)
            s.add(team_row)
            await s.flush()
        user = StaffUser(
            username=f"{role.value}-{uuid.uuid4().hex[:8]}",
            display_name=f"Proof {role.value}",
            role=role.value,
            team_id=team_row.id,
            password_hash="!proof-account-without-password",
        )
        s.add(user)
        await s.flush()
        return Actor(id=user.id, role=role, team_id=team_row.id)


def problem_or_ok(response: Any) -> bool:
    return response.status_code < 400 or response.headers.get("content-type", "").startswith("application/problem+json")
