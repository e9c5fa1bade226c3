"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import msgspec
from litestar import Request, get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from core.errors import NotAuthenticated, ServiceUnavailable


class NotReady(ServiceUnavailable):
    """503 with the state of each dependency (``checks``), so the balancer stops routing here."""

    type_slug = "not-ready"


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


def metrics_scraper_only(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """In production, only a scraper holding ``EMON_HTTP_METRICS_TOKEN`` reads the metrics."""
    settings = connection.app.state.settings
    if not settings.is_production:
        return
    presented = connection.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not settings.http.metrics_token or not hmac.compare_digest(presented, settings.http.metrics_token):
        raise NotAuthenticated("metrics need the scraper token")


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
async def readyz(request: Request[Any, Any, Any]) -> Readiness:
    state = request.app.state
    probes = [_check("database", state.db.ping)]
    if state.redis is not None:
        probes.append(_check("redis", state.redis.ping))
    checks = dict(await asyncio.gather(*probes))
    if all(v == "ok" for v in checks.values()):
        return Readiness(status="ready", checks=checks)
    raise NotReady("A dependency is not reachable", checks=checks)
