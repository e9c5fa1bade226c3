"""Demo data for field work: submitted orders whose jobs wait for team North, and devices in stock.

Idempotent (each record is looked up by a natural key first) and refused in production. The demo staff accounts
normally come from the security seeder; any that are missing are created here minimally, with an unusable
password, so this seeder also works alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.settings import Settings
from fieldwork import intake
from fieldwork.models import Device, Wearer
from fieldwork.schemas import OrderIn
from fieldwork.service import Ctx
from fieldwork.vocab import DeviceStatus
from security.actor import Actor, Role
from security.models import StaffUser, Team

STAFF = [
    ("officer.demo", Role.FIELD_OFFICER, "North"),
    ("officer2.demo", Role.FIELD_OFFICER, "South"),
    ("caseworker.demo", Role.CASEWORKER, None),
    ("supervisor.demo", Role.SUPERVISOR, None),
    ("admin.demo", Role.ADMIN, None),
]

DEVICES = [
    ("DEMO-RF-001", "RF_TAG", "North"),
    ("DEMO-RF-002", "RF_TAG", "North"),
    ("DEMO-HMU-001", "HMU", "North"),
    ("DEMO-HMU-002", "HMU", "North"),
    ("DEMO-GPS-001", "GPS_TAG", "North"),
    ("DEMO-AL-001", "ALCOHOL_TAG", "North"),
    ("DEMO-W-001", "SMARTWATCH", "North"),
    ("DEMO-W-002", "SMARTWATCH", "North"),
    ("DEMO-RF-101", "RF_TAG", "South"),
    ("DEMO-HMU-101", "HMU", "South"),
]
MODELS = {
    "RF_TAG": "RF Tag 4",
    "GPS_TAG": "GPS Tag 2",
    "HMU": "Home Unit 3",
    "ALCOHOL_TAG": "Transdermal 1",
    "SMARTWATCH": "Check-in Watch 1",
}

UNUSABLE_PASSWORD = "!"  # noqa: S105 - matches no hash, so nobody can log in with it
LEEDS_CENTRE = [[-1.552, 53.794], [-1.536, 53.794], [-1.536, 53.802], [-1.552, 53.802], [-1.552, 53.794]]


def _orders() -> list[tuple[str, dict[str, Any]]]:
    today = utcnow().date()
    week = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    common = {
        "region": "North",
        "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=120)).isoformat(),
        "responsible_organisation": {"name": "Probation Service North"},
    }
    return [
        (
            "A0001DM",
            {
                **common,
                "order_type": "COMMUNITY",
                "device_wearer": {
                    "nomis_id": "A0001DM",
                    "first_name": "Demo",
                    "last_name": "Curfew",
                    "date_of_birth": "1991-05-17",
                    "sex": "MALE",
                    "gender": "MALE",
                    "language": "English",
                },
                "addresses": [{"type": "PRIMARY", "line1": "10 Example Road", "town": "Leeds", "postcode": "LS6 2AA"}],
                "conditions": [
                    {"type": "CURFEW", "timetable": [{"day": d, "start": "19:00:00", "end": "07:00:00"} for d in week]}
                ],
                "risk": {"dangerous_dogs": True, "other_occupants": "Partner and a dog"},
                "notifying_organisation": {"name": "Leeds Magistrates' Court"},
            },
        ),
        (
            "A0002DM",
            {
                **common,
                "order_type": "POST_RELEASE",
                "device_wearer": {
                    "nomis_id": "A0002DM",
                    "crn": "X000002",
                    "first_name": "Demo",
                    "last_name": "Trail",
                    "date_of_birth": "1984-11-02",
                    "sex": "MALE",
                    "gender": "MALE",
                },
                "addresses": [
                    {"type": "PRIMARY", "line1": "22 Sample Street", "town": "Bradford", "postcode": "BD1 1AA"}
                ],
                "conditions": [
                    {"type": "TRAIL", "device": "FITTED"},
                    {
                        "type": "ZONE",
                        "zone_type": "EXCLUSION",
                        "device": "FITTED",
                        "geometry": {"kind": "POLYGON", "coordinates": LEEDS_CENTRE},
                        "description": "Leeds city centre",
                    },
                ],
                "risk": {"violence": True, "mappa_level": "LEVEL_2", "mappa_category": "CATEGORY_2"},
                "notifying_organisation": {"name": "HMPPS Licence Team"},
            },
        ),
        (
            "HO-DEMO-0003",
            {
                **common,
                "order_type": "IMMIGRATION",
                "device_wearer": {
                    "home_office_ref": "HO-DEMO-0003",
                    "first_name": "Demo",
                    "last_name": "Checkin",
                    "date_of_birth": "1989-08-30",
                    "sex": "FEMALE",
                    "gender": "FEMALE",
                    "language": "Portuguese",
                    "interpreter_required": True,
                },
                "addresses": [{"type": "PRIMARY", "line1": "5 Demo Court", "town": "Leeds", "postcode": "LS9 8AB"}],
                "conditions": [
                    {"type": "TRAIL", "device": "NON_FITTED"},
                    {
                        "type": "CHECKIN_SCHEDULE",
                        "windows": [
                            {"day": d, "start": start, "end": end}
                            for d in week
                            for start, end in (("09:00:00", "10:00:00"), ("18:00:00", "19:00:00"))
                        ],
                    },
                ],
                "notifying_organisation": {"name": "Home Office Immigration Enforcement"},
            },
        ),
    ]


async def _team(session: AsyncSession, name: str) -> Team:
    team = (await session.execute(select(Team).where(Team.name == name))).scalar_one_or_none()
    if team is None:
        team = Team(name=name, region=name)
        session.add(team)
        await session.flush()
    return team


async def _staff(session: AsyncSession, username: str, role: Role, team: str | None, lines: list[str]) -> StaffUser:
    user = (await session.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one_or_none()
    if user is None:
        user = StaffUser(
            username=username,
            display_name=username.replace(".", " ").title(),
            role=role.value,
            team_id=(await _team(session, team)).id if team else None,
            password_hash=UNUSABLE_PASSWORD,  # unusable: the security seeder (or an admin) sets real credentials
        )
        session.add(user)
        await session.flush()
        lines.append(f"fieldwork: created placeholder account {username} (no password)")
    return user


async def seed_fieldwork(session: AsyncSession, settings: Settings) -> list[str]:
    if settings.is_production:
        raise RuntimeError("demo data is refused in production")
    lines: list[str] = []
    teams = {name: await _team(session, name) for name in ("North", "South")}
    staff = {username: await _staff(session, username, role, team, lines) for username, role, team in STAFF}
    added = 0
    for serial, device_type, team in DEVICES:
        if (await session.execute(select(Device.id).where(Device.serial == serial))).first() is None:
            session.add(
                Device(
                    serial=serial,
                    device_type=device_type,
                    model=MODELS[device_type],
                    firmware="1.0.0",
                    status=DeviceStatus.IN_STOCK.value,
                    team_id=teams[team].id,
                )
            )
            added += 1
    await session.flush()
    if added:
        lines.append(f"fieldwork: {added} devices in stock (North and South, including 2 smartwatches)")
    supervisor = staff["supervisor.demo"]
    ctx = Ctx(session=session, actor=Actor(id=supervisor.id, role=Role.SUPERVISOR), settings=settings)
    for key, body in _orders():
        exists = await session.execute(
            select(Wearer.id).where((Wearer.nomis_id == key) | (Wearer.home_office_ref == key))
        )
        if exists.first() is not None:
            continue
        data = msgspec.convert({**body, "caseworker_id": str(staff["caseworker.demo"].id)}, OrderIn)
        draft = await intake.create_draft(ctx, data)
        order = await intake.submit(ctx, draft.id, draft.version)
        lines.append(f"fieldwork: {order.order_type} order {order.id} submitted; visit job for team North")
    return lines
