"""Each configuration check fails on a bad setting and passes on the production configuration."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig

from compliance.model import Status
from compliance.surfaces.config import ConfigView, key_bytes, route_table
from core.settings import DEV_SECRET, Settings

from .conftest import only, statuses, with_


def _guard(connection: Any, handler: Any) -> None:
    return None


@get("/orders", guards=[_guard], sync_to_thread=False)
def list_orders() -> list[str]:
    return []


@get("/healthz", exclude_from_auth=True, sync_to_thread=False)
def healthz() -> str:
    return "ok"


@get("/wearers", sync_to_thread=False)
def unguarded() -> list[str]:
    return []


class _AuthMiddleware:
    def __init__(self, app: Any, exclude: list[str] | None = None) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def good_app() -> Litestar:
    return Litestar(
        [list_orders, healthz],
        openapi_config=None,
        middleware=[DefineMiddleware(_AuthMiddleware, exclude=["^/healthz$"])],
    )


def bad_app() -> Litestar:
    return Litestar(
        [list_orders, healthz, unguarded],
        openapi_config=OpenAPIConfig(title="t", version="1"),
        middleware=[DefineMiddleware(_AuthMiddleware, exclude=["/healthz"])],
        request_max_body_size=None,
    )


# (check id, settings changes that must FAIL it)
BAD_SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("CFG-001", {"debug": True}),
    ("CFG-003", {"security__jwt_algorithm": "HS256"}),
    ("CFG-005", {"security__access_token_ttl_seconds": 3600}),
    ("CFG-006", {"security__jwt_audience": ""}),
    ("CFG-007", {"security__argon2_memory_cost_kib": 4096}),
    ("CFG-007", {"security__argon2_time_cost": 1}),
    ("CFG-008", {"security__password_min_length": 8}),
    ("CFG-009", {"security__password_max_length": 32}),
    ("CFG-011", {"security__mfa_required": False}),
    ("CFG-012", {"security__login_max_failures": 50}),
    ("CFG-012", {"security__login_max_failures": 10, "security__login_window_seconds": 60}),
    ("CFG-013", {"security__checkin_rate_per_minute": 0}),
    ("CFG-014", {"http__cors_origins": ["*"]}),
    ("CFG-014", {"http__cors_origins": ["http://caseworker.emon.example"]}),
    ("CFG-015", {"http__allowed_hosts": ["*"]}),
    ("CFG-016", {"http__max_json_bytes": 100 * 1024 * 1024}),
    ("CFG-017", {"http__max_image_bytes": 100 * 1024 * 1024}),
    ("CFG-019", {"security__secret_key": DEV_SECRET}),
    ("CFG-019", {"security__audit_hmac_key": "please-change-me-this-is-a-long-placeholder-value"}),
    ("CFG-020", {"database__url": "postgresql+asyncpg://emon@db/emon?sslmode=require"}),
    ("CFG-020", {"database__url": "sqlite+aiosqlite:///var/emon.db"}),
    ("CFG-021", {"retention__record_days": 4000}),
    ("CFG-022", {"retention__checkin_image_days": 2190}),
    ("CFG-023", {"retention__template_grace_days": 365}),
    ("CFG-024", {"security__headers_hsts_seconds": 300}),
    ("CFG-026", {"biometrics__template_keys": "t1:" + base64.b64encode(secrets.token_bytes(16)).decode()}),
    ("CFG-026", {"biometrics__template_keys": ""}),
    ("CFG-027", {"security__secret_key": "short-random-Xy12"}),
    ("CFG-028", {"redis__url": ""}),
    ("CFG-028", {"redis__url": "redis://cache.internal:6379/0"}),
    ("CFG-030", {"env": "prodd"}),
]
SETTINGS_CHECKS = sorted({c for c, _ in BAD_SETTINGS})


@pytest.mark.parametrize(
    ("check_id", "changes"), BAD_SETTINGS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(BAD_SETTINGS)]
)
async def test_check_fails_on_bad_setting(good_settings: Settings, check_id: str, changes: dict[str, Any]) -> None:
    cfg = ConfigView(with_(good_settings, **changes), good_app())
    assert Status.FAIL in await statuses(check_id, cfg)


@pytest.mark.parametrize("check_id", SETTINGS_CHECKS)
async def test_check_passes_on_production_settings(good_settings: Settings, check_id: str) -> None:
    cfg = ConfigView(good_settings, good_app())
    assert only(await statuses(check_id, cfg)) is Status.PASS


async def test_jwt_keys_missing_or_of_the_wrong_type_fail(good_settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert only(await statuses("CFG-004", ConfigView(with_(good_settings, security__jwt_keys_dir=str(empty))))) is (
        Status.FAIL
    )
    es256 = with_(good_settings, security__jwt_algorithm="ES256")
    assert only(await statuses("CFG-004", ConfigView(es256))) is Status.FAIL
    assert only(await statuses("CFG-004", ConfigView(good_settings))) is Status.PASS


@pytest.mark.parametrize("check_id", ["CFG-002", "CFG-016", "CFG-018", "CFG-029"])
async def test_route_table_checks_fail_on_bad_app_and_pass_on_good(good_settings: Settings, check_id: str) -> None:
    assert Status.FAIL in await statuses(check_id, ConfigView(good_settings, bad_app()))
    assert only(await statuses(check_id, ConfigView(good_settings, good_app()))) is Status.PASS


async def test_unguarded_route_is_named_in_the_finding(good_settings: Settings) -> None:
    from .conftest import results

    found = {r.resource: r.status for r in await results("CFG-018", ConfigView(good_settings, bad_app()))}
    assert found["GET /wearers"] is Status.FAIL
    assert found["GET /orders"] is Status.PASS
    assert found["GET /healthz"] is Status.PASS


async def test_route_checks_without_an_app_report_error_not_pass(good_settings: Settings) -> None:
    assert only(await statuses("CFG-018", ConfigView(good_settings, None))) is Status.ERROR


async def test_deny_list_check_probes_the_real_password_policy(
    good_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert only(await statuses("CFG-010", ConfigView(good_settings))) is Status.PASS
    monkeypatch.setattr("security.passwords.password_problems", lambda *args, **kwargs: [])  # a weakened policy
    assert only(await statuses("CFG-010", ConfigView(good_settings))) is Status.FAIL


async def test_log_redaction_check_looks_at_the_configured_log_pipeline(good_settings: Settings) -> None:
    import logging

    import structlog

    from core.logs import configure_logging

    configure_logging(good_settings)
    assert only(await statuses("CFG-025", ConfigView(good_settings))) is Status.PASS
    saved_handlers = logging.getLogger().handlers
    structlog.configure(processors=[structlog.processors.JSONRenderer()])
    logging.getLogger().handlers = []
    try:
        assert only(await statuses("CFG-025", ConfigView(good_settings))) is Status.FAIL
    finally:
        logging.getLogger().handlers = saved_handlers
        configure_logging(good_settings)


async def test_a_missing_setting_is_error_never_pass() -> None:
    cfg = ConfigView(SimpleNamespace(env="production"))
    for check_id in ("CFG-003", "CFG-007", "CFG-011", "CFG-021"):
        assert only(await statuses(check_id, cfg)) is Status.ERROR


async def test_development_only_rules_are_not_applicable_outside_production(good_settings: Settings) -> None:
    dev = with_(good_settings, env="development", debug=True)
    assert only(await statuses("CFG-001", ConfigView(dev))) is Status.NOT_APPLICABLE


def test_key_bytes_reads_hex_base64_and_text() -> None:
    assert len(key_bytes("00" * 32)) == 32
    assert len(key_bytes(base64.b64encode(b"x" * 32).decode())) == 32
    assert key_bytes(b"raw") == b"raw"


def test_route_table_lists_every_handler_with_resolved_guards() -> None:
    table = {(r.path, r.methods): r for r in route_table(good_app())}
    assert table[("/orders", ("GET",))].guards == ("_guard",)
    assert table[("/healthz", ("GET",))].public
