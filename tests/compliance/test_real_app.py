"""The real emon application, served in production mode over TLS on 127.0.0.1, passes every live endpoint check,
and its route table passes the configuration surface."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.migrate import upgrade
from compliance.model import Status, Surface
from compliance.runner import Inputs, run
from compliance.surfaces.endpoint import EndpointOptions
from core.settings import Settings, load_settings

from .conftest import write_ed25519_key
from .servers import ServerThread, good_tls

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, object, str, Path]]:
    root = tmp_path_factory.mktemp("deployment")
    write_ed25519_key(root / "jwt")
    settings = load_settings(
        {
            "EMON_ENV": "production",
            "EMON_ALLOW_SQLITE_IN_PRODUCTION": "true",  # PostgreSQL is judged by CFG-020, not needed to serve
            "EMON_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'emon.db'}",
            "EMON_SECURITY_SECRET_KEY": secrets.token_urlsafe(48),
            "EMON_SECURITY_AUDIT_HMAC_KEY": secrets.token_urlsafe(48),
            "EMON_SECURITY_JWT_KEYS_DIR": str(root / "jwt"),
            "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1",
            "EMON_BIOMETRICS_TEMPLATE_KEYS": "t1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        },
        dotenv=None,
    )
    upgrade(settings)
    app = create_app(settings)
    tls, cert = good_tls(root)
    with ServerThread(app, tls, lifespan="on") as server:
        yield settings, app, server.url, cert


async def test_the_real_app_passes_every_endpoint_check(deployment: tuple[Settings, object, str, Path]) -> None:
    settings, app, url, cert = deployment
    report = await run(
        Inputs(settings=settings, app=app, endpoint=EndpointOptions(url=url, ca_file=cert)), [Surface.ENDPOINT]
    )
    not_passing = [(r.check_id, r.resource, r.message) for r in report.results if r.status is not Status.PASS]
    assert not not_passing
    probed = {r.resource for r in report.results if r.check_id == "EP-017"}
    assert len(probed) >= 2  # protected paths were taken from the real route table


async def test_the_real_route_table_is_guarded(deployment: tuple[Settings, object, str, Path]) -> None:
    settings, app, _, _ = deployment
    report = await run(Inputs(settings=settings, app=app), [Surface.CONFIG])
    guarded = [r for r in report.results if r.check_id == "CFG-018"]
    assert guarded
    assert all(r.status is Status.PASS for r in guarded), [r.resource for r in guarded if r.status is not Status.PASS]
    # the only failures are what this single-process test deployment lacks: PostgreSQL and a shared Redis
    assert {r.check_id for r in report.results if r.status is Status.FAIL} == {"CFG-020", "CFG-028"}
