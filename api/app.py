"""The application factory: one Litestar app assembled from every package's routes, middleware and stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.template.config import TemplateConfig
from sqlalchemy.ext.asyncio import AsyncSession

from api.bodies import apply_body_caps, require_json_content_type
from api.health import healthz, metrics_scraper_only, readyz
from api.middleware import RequestContextMiddleware
from api.problems import EXCEPTION_HANDLERS, document_problem_responses
from checkin.pool import shared_pool
from checkin.routes import CheckinController
from checkin.sweeper import run_forever as run_checkin_background
from core.db import Database
from core.logs import configure_logging
from core.redis import create_redis
from core.settings import Settings, get_settings
from fieldwork.routes import ROUTE_HANDLERS as FIELDWORK_ROUTES
from review.routes import ROUTE_HANDLERS as REVIEW_ROUTES
from review.web import PAGE_HANDLERS, TEMPLATES, pages_router, static_router
from review.websession import STORE as SESSION_STORE
from review.websession import session_store
from security.actor import Role
from security.auth import TokenAuthenticationMiddleware, provide_actor, requires
from security.headers import SecurityHeadersMiddleware
from security.hosts import AllowedHostsMiddleware
from security.ratelimit import Limiter, RateLimitMiddleware
from security.routes import router as security_router
from security.runtime import build_runtime
from security.sealer import AuditSealer
from security.tokens import TokenService, load_keyring

VERSION = "0.1.0"


@asynccontextmanager
async def _resources(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.db = Database(settings)
    app.state.redis = create_redis(settings)
    app.state.security = build_runtime(settings, app.state.db, app.state.redis, app.state.tokens)
    # check-ins: the verification pool (workers spawn on first use), the tasks finishing 202-answered check-ins,
    # and the sweeper/scheduler loop every instance runs
    app.state.verifier = shared_pool(settings)
    app.state.checkin_tasks = set()
    stop = asyncio.Event()
    background = asyncio.create_task(run_checkin_background(app.state.db, settings, stop))
    sealer = AuditSealer(app.state.db, settings)
    sealer.start()
    try:
        yield
    finally:
        await sealer.stop()
        stop.set()
        pending = [*app.state.checkin_tasks, background]
        await asyncio.wait(pending, timeout=30)
        for task in pending:
            task.cancel()
        if app.state.redis is not None:
            await app.state.redis.aclose()
        await app.state.db.dispose()


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler succeeds, rolled back when it raises."""
    async with state.db.sessionmaker() as session, session.begin():
        yield session


def provide_limiter(state: State) -> Limiter:
    """The shared rate limiter: ``await limiter.enforce(f"checkin:{actor.device_id}", 30, 60)``."""
    return state.security.limiter


def _openapi(settings: Settings) -> OpenAPIConfig | None:
    """Public in development; in production off, or (``EMON_HTTP_OPENAPI_IN_PRODUCTION``) for admins only."""
    if settings.is_production and not settings.http.openapi_in_production:
        return None
    if settings.is_production:
        router = Router(path="/schema", route_handlers=[], guards=[requires(Role.ADMIN)])
    else:
        router = Router(path="/schema", route_handlers=[], opt={"exclude_from_auth": True})
    return OpenAPIConfig(
        title="emon API",
        version=VERSION,
        description="Electronic monitoring: field work, smartwatch check-ins, caseworker review, compliance evidence.",
        openapi_router=router,
        render_plugins=[ScalarRenderPlugin()],
    )


class MetricsController(PrometheusController):
    """Prometheus metrics for the monitoring system. In production the scraper presents
    ``EMON_HTTP_METRICS_TOKEN`` as a bearer token; without that setting the route is not served there."""

    path = "/metrics"
    opt = {"exclude_from_auth": True}
    include_in_schema = False  # Prometheus text for the scraper, not part of the API contract
    guards = [metrics_scraper_only]


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings)
    tokens = TokenService(settings, load_keyring(settings))
    prometheus = PrometheusConfig(app_name="emon", prefix="emon", group_path=True, exclude=["^/metrics$"])
    route_handlers: list[Any] = [healthz, readyz, security_router(settings), *FIELDWORK_ROUTES, CheckinController]
    route_handlers += REVIEW_ROUTES
    route_handlers += [pages_router(settings, PAGE_HANDLERS), static_router()]
    if not settings.is_production or settings.http.metrics_token:
        route_handlers.append(MetricsController)
    cors = CORSConfig(allow_origins=list(settings.http.cors_origins)) if settings.http.cors_origins else None
    app = Litestar(
        route_handlers=route_handlers,
        dependencies={
            "db_session": Provide(provide_db_session),
            "actor": Provide(provide_actor),
            "limiter": Provide(provide_limiter, sync_to_thread=False),
        },
        lifespan=[_resources],
        middleware=[
            prometheus.middleware,
            DefineMiddleware(
                TokenAuthenticationMiddleware,
                tokens=tokens,
                trusted_proxies=list(settings.http.trusted_proxies),
            ),
            DefineMiddleware(
                RateLimitMiddleware,
                per_minute=settings.security.api_rate_per_minute,
                trusted_proxies=list(settings.http.trusted_proxies),
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=require_json_content_type,
        openapi_config=_openapi(settings),
        cors_config=cors,
        request_max_body_size=settings.http.max_json_bytes,  # image routes get theirs in apply_body_caps
        debug=settings.debug and not settings.is_production,
        logging_config=None,
        state=State({"settings": settings, "tokens": tokens}),
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        stores={SESSION_STORE: session_store(settings)},
    )
    # Litestar runs app middleware only for matched routes; these wrap the whole handler so that 404s, 405s and
    # host rejections also carry a request id and the security headers.
    apply_body_caps(app, settings)
    document_problem_responses(app)
    hosts = AllowedHostsMiddleware(app.asgi_handler, list(settings.http.allowed_hosts))
    app.asgi_handler = RequestContextMiddleware(SecurityHeadersMiddleware(hosts, settings))
    return app
