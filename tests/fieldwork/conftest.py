"""Field work fixtures: the cast (officers in two teams, a caseworker, a supervisor), a complete order, devices."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.settings import Settings
from security.actor import Actor, Role

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(settings_for: Callable[..., Settings], tmp_path: Path) -> Settings:
    # Small sync commit steps, so that every sync specification also crosses commit boundaries.
    return settings_for(EMON_FIELDWORK_PHOTO_DIR=str(tmp_path / "photos"), EMON_FIELDWORK_SYNC_OPS_PER_COMMIT="2")


@dataclass
class Person:
    actor: Actor
    headers: dict[str, str]

    @property
    def id(self) -> str:
        return str(self.actor.id)


@dataclass
class Cast:
    officer: Person  # team North
    colleague: Person  # another officer in team North
    stranger: Person  # an officer in team South
    caseworker: Person
    other_caseworker: Person
    supervisor: Person
    admin: Person


@pytest.fixture
async def cast(make_staff: Callable[..., Any], token_for: Callable[[Actor], dict[str, str]]) -> Cast:
    async def person(role: Role, team: str | None = None) -> Person:
        actor = await make_staff(role, team=team)
        return Person(actor, token_for(actor))

    return Cast(
        officer=await person(Role.FIELD_OFFICER, "North"),
        colleague=await person(Role.FIELD_OFFICER, "North"),
        stranger=await person(Role.FIELD_OFFICER, "South"),
        caseworker=await person(Role.CASEWORKER),
        other_caseworker=await person(Role.CASEWORKER),
        supervisor=await person(Role.SUPERVISOR),
        admin=await person(Role.ADMIN),
    )


def now() -> datetime:
    return datetime.now(UTC)


def complete_order(**overrides: Any) -> dict[str, Any]:
    """A complete curfew order in region North: everything submission needs."""
    order: dict[str, Any] = {
        "order_type": "COMMUNITY",
        "region": "North",
        "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=90)).isoformat(),
        "device_wearer": {
            "nomis_id": "A1234BC",
            "first_name": "Sam",
            "last_name": "Example",
            "date_of_birth": "1990-04-01",
            "sex": "MALE",
            "gender": "MALE",
            "language": "English",
        },
        "addresses": [{"type": "PRIMARY", "line1": "1 High Street", "town": "Leeds", "postcode": "ls1 1ba"}],
        "conditions": [
            {
                "type": "CURFEW",
                "timetable": [
                    {"day": day, "start": "19:00:00", "end": "07:00:00"}
                    for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
                ],
            }
        ],
        "risk": {"violence": True, "dangerous_dogs": True, "mappa_level": "LEVEL_1", "details": "Large dog at home"},
        "notifying_organisation": {"name": "Leeds Magistrates' Court"},
        "responsible_organisation": {"name": "Probation Service North"},
    }
    order.update(overrides)
    return order


def immigration_order(**overrides: Any) -> dict[str, Any]:
    """A non-fitted (smartwatch) immigration order with a check-in schedule."""
    order = complete_order(
        order_type="IMMIGRATION",
        device_wearer={
            "home_office_ref": "HO-123456",
            "first_name": "Ana",
            "last_name": "Sample",
            "date_of_birth": "1985-02-03",
            "sex": "FEMALE",
            "gender": "FEMALE",
            "language": "Portuguese",
            "interpreter_required": True,
        },
        conditions=[
            {"type": "TRAIL", "device": "NON_FITTED"},
            {
                "type": "CHECKIN_SCHEDULE",
                "windows": [{"day": "MONDAY", "start": "09:00:00", "end": "10:00:00"}],
            },
        ],
        notifying_organisation={"name": "Home Office Immigration Enforcement"},
    )
    order.update(overrides)
    return order


async def create_order(client: Client, who: Person, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post("/api/v1/orders", json=body or complete_order(), headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def submit(client: Client, who: Person, order: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/orders/{order['id']}/submit", json={"version": order["version"]}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def submitted_order(client: Client, cast: Cast, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return await submit(client, cast.caseworker, await create_order(client, cast.caseworker, body))


async def add_device(client: Client, cast: Cast, serial: str, device_type: str, team_of: Person) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/stock/devices",
        json={"serial": serial, "device_type": device_type, "model": "X1", "team_id": str(team_of.actor.team_id)},
        headers=cast.supervisor.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def job_of(client: Client, who: Person, order: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(f"/api/v1/jobs/{order['jobs'][0]}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def fitting_body(
    job: dict[str, Any], serials: list[tuple[str, str]], photos: list[str] | None = None
) -> dict[str, Any]:
    return {
        "version": job["version"],
        "devices": [{"serial": serial, "placement": placement} for serial, placement in serials],
        "installed_at": (now() - timedelta(minutes=5)).isoformat(),
        "fit_check_passed": True,
        "signal_check_passed": True,
        "wearer_acknowledged": True,
        "photos": photos or [],
        "location": {"lat": 53.7997, "lon": -1.5492, "accuracy_m": 8},
    }


CURFEW_KIT = [("RF-1", "LEFT_LEG"), ("HMU-1", "NOT_WORN")]


async def curfew_kit(client: Client, cast: Cast, suffix: str = "1") -> list[tuple[str, str]]:
    await add_device(client, cast, f"RF-{suffix}", "RF_TAG", cast.officer)
    await add_device(client, cast, f"HMU-{suffix}", "HMU", cast.officer)
    return [(f"RF-{suffix}", "LEFT_LEG"), (f"HMU-{suffix}", "NOT_WORN")]


def jpeg_bytes(seed: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (seed % 256, 80, 120)).save(buffer, format="JPEG")
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_id() -> str:
    return str(uuid.uuid4())
