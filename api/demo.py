"""Demo data for ``make run``: each package contributes a seeder; running it twice changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from checkin.demo import seed_checkins
from core.db import Database
from core.settings import Settings
from fieldwork.demo import seed_fieldwork
from review.demo import seed_review
from security.demo import seed_accounts

# A seeder adds its package's demo records (skipping those present) and returns lines to show the user.
Seeder = Callable[[AsyncSession, Settings], Awaitable[list[str]]]
# check-ins after field work: they attach to its demo smartwatch wearer
SEEDERS: list[Seeder] = [seed_accounts, seed_fieldwork, seed_checkins, seed_review]


async def seed(settings: Settings) -> list[str]:
    db = Database(settings)
    lines: list[str] = []
    try:
        for seeder in SEEDERS:
            async with db.transaction() as session:
                lines.extend(await seeder(session, settings))
    finally:
        await db.dispose()
    return lines
