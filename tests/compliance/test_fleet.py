"""Device postures read from the security package's tables (built by the real migrations)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from api.migrate import upgrade
from compliance.cli import compliance
from compliance.devices import DeviceState, evaluate_device, load_policy
from compliance.fleet import postures_from_database
from core.settings import load_settings
from security.models import Device, DevicePosture, StaffUser


def test_latest_posture_of_each_active_device(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fleet.db'}"
    upgrade(load_settings({"EMON_DATABASE_URL": url}, dotenv=None))  # migrations run their own event loop
    asyncio.run(_scenario(url))


async def _scenario(url: str) -> None:
    now = datetime.now(UTC)
    engine = create_async_engine(url)
    watch_id, silent_id = uuid.uuid4(), uuid.uuid4()
    officer = StaffUser(id=uuid.uuid4(), username="o", display_name="O", role="FIELD_OFFICER", password_hash="x")
    watch = Device(id=watch_id, kind="watch", label="w", status="active", key_algorithm="Ed25519",
                   public_key="pem", key_thumbprint="a" * 64, enrolled_by=officer.id)  # fmt: skip
    silent = Device(id=silent_id, kind="watch", label="s", status="active", key_algorithm="Ed25519",
                    public_key="pem", key_thumbprint="b" * 64, enrolled_by=officer.id)  # fmt: skip
    retired = Device(id=uuid.uuid4(), kind="phone", label="r", status="retired", key_algorithm="Ed25519",
                     public_key="pem", key_thumbprint="c" * 64, enrolled_by=officer.id)  # fmt: skip
    old = DevicePosture(id=uuid.uuid4(), device_id=watch_id, reported_at=now - timedelta(days=3), platform="wearos",
                        os_version="4.0", details="{}")  # fmt: skip
    new = DevicePosture(id=uuid.uuid4(), device_id=watch_id, reported_at=now - timedelta(hours=1), platform="wearos",
                        os_version="5.1", security_patch="2026-11-01", encrypted=True, screen_lock=True, rooted=False,
                        attestation_format="android_key", attestation="MIIB...", details="{}")  # fmt: skip
    try:
        async with AsyncSession(engine) as session, session.begin():
            session.add(officer)
            await session.flush()
            session.add_all([watch, silent, retired])
            await session.flush()
            session.add_all([old, new])
        async with AsyncSession(engine) as session:
            postures = {p.device_id: p for p in await postures_from_database(session)}
    finally:
        await engine.dispose()

    assert set(postures) == {str(watch_id), str(silent_id)}
    latest = postures[str(watch_id)]
    assert latest.os_version == "5.1"
    assert latest.attestation is not None
    assert latest.attestation.chain_valid is False  # stored evidence is not yet verified
    policy = load_policy()
    judged = evaluate_device(latest, policy, now)
    assert judged.state is DeviceState.NON_COMPLIANT
    assert any("not verified" in r for r in judged.reasons)
    assert evaluate_device(postures[str(silent_id)], policy, now).state is DeviceState.NO_DATA


def test_devices_command_reads_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fleet.db'}"
    settings = load_settings({"EMON_DATABASE_URL": url}, dotenv=None)
    upgrade(settings)
    res = CliRunner().invoke(compliance, ["devices", "--format", "json"], obj={"settings": settings})
    assert res.exit_code == 0, res.output
    assert '"total": 0' in res.output
    missing = load_settings({"EMON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"}, dotenv=None)
    res = CliRunner().invoke(compliance, ["devices"], obj={"settings": missing})
    assert res.exit_code == 2
    assert "does not exist" in res.output
