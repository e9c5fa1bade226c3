"""What every benchmark shares: a loopback server in a subprocess, latency statistics and result lines.

Figures are ratios against a baseline measured in the same run on the same machine, because absolute times on a
shared machine vary. Nothing here passes or fails: it reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "RESULT "


def report(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: str = "",
    baseline_value: float | None = None,
    ratio: float | None = None,
    goal: str = "",
    note: str = "",
) -> None:
    """Print one machine-readable result line (collected by ``python -m bench`` into the results table)."""
    line = {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": None if baseline_value is None else round(baseline_value, 4),
        "ratio": None if ratio is None else round(ratio, 3),
        "goal": goal,
        "note": note,
    }
    print(RESULT_PREFIX + json.dumps(line), flush=True)


def percentile(samples: Sequence[float], p: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(samples, 50) * 1000,
        "p95": percentile(samples, 95) * 1000,
        "p99": percentile(samples, 99) * 1000,
        "mean": statistics.fmean(samples) * 1000 if samples else float("nan"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(env: dict[str, str], *, app: str = "api.asgi:create", workers: int = 1, timeout: float = 60) -> Iterator[str]:
    """Run uvicorn on 127.0.0.1 in a subprocess with the given ``EMON_*`` settings; yield its base URL."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")}
    environ.update(env)
    environ.setdefault("EMON_HTTP_ALLOWED_HOSTS", "127.0.0.1,localhost")
    environ.setdefault("EMON_LOGGING_LEVEL", "WARNING")
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def migrate(env: dict[str, str]) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")}
    environ.update(env)
    subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "upgrade"], cwd=ROOT, env=environ, check=True, capture_output=True
    )
