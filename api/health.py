"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, get
from litestar.response import Response

from api.problems import problem


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


@get("/healthz", exclude_from_auth=True, tags=["operations"], summary="The process is alive", sync_to_thread=False)
def healthz() -> Health:
    return Health(status="ok")


async def _check(name: str, probe: Any) -> tuple[str, str]:
    try:
        async with asyncio.timeout(2.0):
            await probe()
    except Exception as exc:  # any failure means not ready; the reason is logged, not shown
        return name, f"unavailable ({type(exc).__name__})"
    return name, "ok"


@get(
    "/readyz",
    exclude_from_auth=True,
    tags=["operations"],
    summary="The database (and Redis, when configured) answer",
)
async def readyz(request: Request[Any, Any, Any]) -> Readiness | Response[Any]:
    state = request.app.state
    probes = [_check("database", state.db.ping)]
    if state.redis is not None:
        probes.append(_check("redis", state.redis.ping))
    checks = dict(await asyncio.gather(*probes))
    if all(v == "ok" for v in checks.values()):
        return Readiness(status="ready", checks=checks)
    return problem(request, 503, "A dependency is not reachable", type_slug="not-ready", checks=checks)
