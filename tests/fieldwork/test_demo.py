"""The demo seeder: works alone, twice without change, and never in production."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.settings import Settings
from fieldwork.demo import seed_fieldwork
from fieldwork.models import Device, Order, VisitJob, Wearer
from security.models import StaffUser, Team


async def test_seeding_twice_changes_nothing_and_the_jobs_wait_for_team_north(db, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    async with db.transaction() as session:
        first = await seed_fieldwork(session, settings)
    async with db.transaction() as session:
        second = await seed_fieldwork(session, settings)
    assert first
    assert second == []
    async with db.transaction() as session:
        orders = (await session.execute(select(Order))).scalars().all()
        north = (await session.execute(select(Team).where(Team.name == "North"))).scalar_one()
        jobs = (await session.execute(select(VisitJob))).scalars().all()
        watches = (
            await session.execute(select(func.count()).select_from(Device).where(Device.device_type == "SMARTWATCH"))
        ).scalar_one()
        caseworker = (
            await session.execute(select(StaffUser).where(StaffUser.username == "caseworker.demo"))
        ).scalar_one()
        immigration = (
            await session.execute(select(Wearer).where(Wearer.home_office_ref == "HO-DEMO-0003"))
        ).scalar_one()
    assert {o.status for o in orders} == {"SUBMITTED"}
    assert len(jobs) == 3
    assert {j.team_id for j in jobs} == {north.id}
    assert watches == 2
    assert immigration.caseworker_id == caseworker.id


async def test_the_demo_seeder_refuses_production(db) -> None:  # type: ignore[no-untyped-def]
    async with db.transaction() as session:
        with pytest.raises(RuntimeError, match="production"):
            await seed_fieldwork(session, Settings(env="production"))
