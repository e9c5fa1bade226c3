"""The demo seed gives the caseworker queue something to show, once, and never in production."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from checkin.demo import seed_checkins
from checkin.models import Alert, Checkin
from core.db import Database
from core.settings import Settings


async def test_demo_check_ins_are_seeded_once_with_referred_and_missed_items(
    db: Database, make_case: Callable[..., Any], settings: Settings, settings_for: Callable[..., Settings]
) -> None:
    await make_case()
    async with db.transaction() as s:
        first = await seed_checkins(s, settings)
    async with db.transaction() as s:
        second = await seed_checkins(s, settings)
        statuses = dict((await s.execute(select(Checkin.status, func.count()).group_by(Checkin.status))).all())
        alerts = dict((await s.execute(select(Alert.kind, func.count()).group_by(Alert.kind))).all())
    assert "enrolled" in first[0]
    assert "already enrolled" in second[0]
    assert statuses == {"VERIFIED": 4, "REFERRED": 3, "REJECTED": 1}
    assert alerts == {"MISSED": 3, "REFERRED": 3, "REJECTED": 1}

    production = settings_for(
        EMON_ENV="production",
        EMON_SECURITY_SECRET_KEY="p" * 40,
        EMON_SECURITY_AUDIT_HMAC_KEY="a" * 40,
        EMON_ALLOW_SQLITE_IN_PRODUCTION="true",
        EMON_BIOMETRICS_TEMPLATE_KEYS="k1:" + "A" * 43 + "=",
    )
    async with db.transaction() as s:
        with pytest.raises(RuntimeError, match="production"):
            await seed_checkins(s, production)
