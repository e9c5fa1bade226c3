"""Device postures from the database the security package keeps (``devices`` and ``device_postures``).

The latest report of each active device is turned into a :class:`DevicePosture`. Attestation evidence is stored as
sent; until a verifier checks it against the vendor roots it counts as unverified, so no device passes on a
self-report alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from compliance.devices import Attestation, DevicePosture

DEVICES = sa.table(
    "devices", sa.column("id", sa.String()), sa.column("kind", sa.String()), sa.column("status", sa.String())
)
POSTURES = sa.table(
    "device_postures",
    sa.column("device_id", sa.String()),
    sa.column("reported_at", sa.DateTime(timezone=True)),
    sa.column("platform", sa.String()),
    sa.column("os_version", sa.String()),
    sa.column("security_patch", sa.String()),
    sa.column("encrypted", sa.Boolean()),
    sa.column("screen_lock", sa.Boolean()),
    sa.column("rooted", sa.Boolean()),
    sa.column("attestation_format", sa.String()),
    sa.column("attestation", sa.Text()),
)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _uuid_text(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def postures_from_database(session: AsyncSession) -> list[DevicePosture]:
    """One posture per active device: its latest report, or an empty one (NO_DATA) when it never reported."""
    latest = (
        sa.select(POSTURES.c.device_id, sa.func.max(POSTURES.c.reported_at).label("at"))
        .group_by(POSTURES.c.device_id)
        .subquery()
    )
    query = (
        sa.select(DEVICES.c.id, DEVICES.c.kind, *[c for c in POSTURES.c if c.name != "device_id"])
        .select_from(DEVICES)
        .outerjoin(latest, latest.c.device_id == DEVICES.c.id)
        .outerjoin(POSTURES, sa.and_(POSTURES.c.device_id == DEVICES.c.id, POSTURES.c.reported_at == latest.c.at))
        .where(DEVICES.c.status == "active")
        .order_by(DEVICES.c.id)
    )
    out: list[DevicePosture] = []
    for row in (await session.execute(query)).mappings():
        attestation = None
        if row["attestation"]:
            attestation = Attestation(kind=row["attestation_format"] or "unknown", chain_valid=False)
        out.append(
            DevicePosture(
                device_id=_uuid_text(row["id"]),
                platform=(row["platform"] or row["kind"] or "unknown").lower(),
                os_version=row["os_version"],
                security_patch=_date(row["security_patch"]),
                encrypted=row["encrypted"],
                screen_lock=row["screen_lock"],
                rooted=row["rooted"],
                attestation=attestation,
                reported_at=_aware(row["reported_at"]),
            )
        )
    return out
