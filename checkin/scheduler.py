"""Scheduled prompts: one per check-in window of the wearer's active order (at most five a day), at a random time
inside the window, for every wearer with an enrolled watch. Idempotent: prompts are unique per (wearer, window,
date), so every instance may run it and running it again changes nothing.

Windows are local times (``EMON_CHECKIN_TIMEZONE``, Europe/London); the prompt opens at a uniformly random moment
that leaves the whole response window inside the check-in window when it fits (else at the window's start).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from checkin import orders
from checkin.models import Enrolment, Prompt
from checkin.pool import policy_from
from checkin.service import challenge_for, new_nonce
from checkin.vocab import EnrolmentStatus, PromptKind, PromptStatus
from core.db import Database
from core.ids import uuid7
from core.settings import Settings

_random = secrets.SystemRandom()


def prompt_times(window: orders.Window, on: date, tz: ZoneInfo, response_seconds: int) -> tuple[datetime, datetime]:
    start = datetime.combine(on, window.start, tzinfo=tz)
    end = datetime.combine(on, window.end, tzinfo=tz)
    latest = end - timedelta(seconds=response_seconds)
    span = (latest - start).total_seconds()
    issue = start + timedelta(seconds=_random.uniform(0, span)) if span > 0 else start
    from datetime import UTC

    issue = issue.astimezone(UTC)
    return issue, issue + timedelta(seconds=response_seconds)


async def schedule_prompts(session: AsyncSession, settings: Settings, on: date) -> int:
    """Create the prompts of ``on`` for every enrolled wearer; returns how many rows were new."""
    tz = ZoneInfo(settings.checkin.timezone)
    policy = policy_from(settings)
    enrolled = (
        (await session.execute(select(Enrolment.wearer_id).where(Enrolment.status == EnrolmentStatus.ACTIVE.value)))
        .scalars()
        .all()
    )
    rows = []
    for wearer_id in set(enrolled):
        order = await orders.active_order(session, wearer_id)
        if order is None:
            continue
        for window in orders.windows_on(order.content, on):
            issue, expires = prompt_times(window, on, tz, settings.checkin.response_window_seconds)
            nonce = new_nonce()
            rows.append(
                {
                    "id": uuid7(),
                    "wearer_id": wearer_id,
                    "order_id": order.order_id,
                    "kind": PromptKind.SCHEDULED.value,
                    "window_key": window.key,
                    "prompt_date": on,
                    "issue_at": issue,
                    "expires_at": expires,
                    "nonce": nonce,
                    "challenge": challenge_for(nonce, settings, policy).kind,
                    "status": PromptStatus.PENDING.value,
                    "created_at": datetime.now(tz).astimezone(ZoneInfo("UTC")),
                }
            )
    if not rows:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Prompt).on_conflict_do_nothing(index_elements=["wearer_id", "window_key", "prompt_date"])
    counted = select(func.count()).select_from(Prompt).where(Prompt.prompt_date == on, Prompt.window_key.is_not(None))
    before = (await session.execute(counted)).scalar_one()
    await (await session.connection()).execute(statement, rows)
    return int((await session.execute(counted)).scalar_one() - before)


async def schedule_days(db: Database, settings: Settings, first: date, days: int = 2) -> int:
    """Today's and tomorrow's prompts (so a prompt early in the morning exists before its window opens)."""
    created = 0
    for offset in range(days):
        async with db.transaction() as session:
            created += await schedule_prompts(session, settings, first + timedelta(days=offset))
    return created
