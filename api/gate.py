"""The production start gate: the compliance module's configuration surface, run before serving.

A critical failure stops the start. ``EMON_EMERGENCY_OVERRIDE`` (a reason, e.g. an incident number) lets an
operator start anyway in an emergency; every such start is written to the audit log with the failing checks.
"""

from __future__ import annotations

from compliance.model import Result, Severity, Status
from compliance.registry import Surface
from compliance.runner import Inputs, run
from core.db import Database
from core.settings import Settings
from security.actor import SYSTEM
from security.audit import record


async def critical_failures(settings: Settings) -> list[Result]:
    from api.app import create_app

    report = await run(Inputs(settings=settings, app=create_app(settings)), [Surface.CONFIG])
    return [r for r in report.results if r.status == Status.FAIL and r.severity == Severity.CRITICAL and not r.waived]


async def audit_override(settings: Settings, failures: list[Result]) -> None:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            await record(
                session,
                SYSTEM,
                "deployment.start_override",
                "deployment",
                None,
                outcome="overridden",
                details={"reason": settings.emergency_override, "checks": [r.check_id for r in failures]},
                key=settings.security.audit_hmac_key.encode(),
            )
    finally:
        await db.dispose()
