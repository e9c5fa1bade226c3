"""In production, `emon serve` runs the configuration checks first and refuses a critical failure, unless an
operator gives an emergency override, which is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from api.cli import main
from api.gate import critical_failures
from core.db import Database
from security.audit import AuditEvent
from security.tokens import generate_key, write_key


def _production(settings_for, tmp_path: Path, **extra: str):  # type: ignore[no-untyped-def]
    keys = tmp_path / "keys"
    write_key(keys, "prod1", generate_key("EdDSA"))
    env = {
        "EMON_ENV": "production",
        "EMON_SECURITY_SECRET_KEY": "Kq3v8ZpX1tLw9mRb7Yc2Nf5Hs0Gd4Ja6Ue8Wi1Ok3Pl",
        "EMON_SECURITY_AUDIT_HMAC_KEY": "Vb6Nm2Qw8Er4Ty0Ui9Op7As5Df3Gh1Jk8Lz6Xc4Vb2",
        "EMON_ALLOW_SQLITE_IN_PRODUCTION": "true",
        "EMON_BIOMETRICS_TEMPLATE_KEYS": "t1:3q2+7w5Uo1mK9v8ZpX1tLw9mRb7Yc2Nf5Hs0Gd4Ja6U=",
        "EMON_SECURITY_JWT_KEYS_DIR": str(keys),
        "EMON_HTTP_ALLOWED_HOSTS": "emon.example.gov.uk",
    }
    env.update(extra)
    return settings_for(**env)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_sound_production_configuration_has_no_critical_failure(settings_for, tmp_path, db) -> None:  # type: ignore[no-untyped-def]
    assert await critical_failures(_production(settings_for, tmp_path)) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_placeholder_secret_stops_the_start_with_the_failing_check_named(settings_for, tmp_path, db) -> None:  # type: ignore[no-untyped-def]
    settings = _production(
        settings_for, tmp_path, EMON_SECURITY_SECRET_KEY="replace-with-48-random-bytes-from-the-secret-store-0001"
    )
    result = CliRunner().invoke(main, ["serve"], obj={"settings": settings})
    assert result.exit_code != 0
    assert "refusing to start" in result.output
    assert "CFG-019" in result.output


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_emergency_override_starts_anyway_and_is_audited(
    settings_for, tmp_path, db: Database, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import uvicorn

    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    settings = _production(
        settings_for,
        tmp_path,
        EMON_SECURITY_SECRET_KEY="replace-with-48-random-bytes-from-the-secret-store-0001",
        EMON_EMERGENCY_OVERRIDE="INC-4711 certificate outage",
    )
    result = await asyncio.to_thread(CliRunner().invoke, main, ["serve"], obj={"settings": settings})
    assert result.exit_code == 0, result.output
    assert started
    async with db.transaction() as session:
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "deployment.start_override")))
            .scalars()
            .all()
        )
    assert len(events) == 1
    assert "INC-4711" in events[0].details
    assert "CFG-019" in events[0].details
