"""Fixtures for the check-in specifications: a caseload with a wearer on an active smartwatch order, watches
(enrolled through the device API with their own keys, signing every request), postures, and the shared test photos
(each read once per session; the verification pool is shared by every app of the session, so workers spawn and load
the models once)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from core.clock import utcnow
from core.db import Database
from core.settings import Settings
from security.actor import Actor, Role
from tests.devices import SignedDevice, enrol_device
from tests.faces import face_path

LONDON = (-0.1276, 51.5072)  # lon, lat


def photo(name: str) -> bytes:
    path = face_path(name)
    if path is None:
        pytest.skip(f"test photo {name} not available (run scripts/fetch_test_faces.py)")
    return path.read_bytes()


@pytest.fixture
def settings(settings_for: Callable[..., Settings]) -> Settings:
    # One worker (two cores are shared); the background loop stays out of the way of the tests' own sweeps;
    # liveness is off so single real photos can verify (a test below covers it on).
    return settings_for(
        EMON_BIOMETRICS_WORKERS="1",
        EMON_CHECKIN_REQUIRE_LIVENESS="false",
        EMON_CHECKIN_SWEEP_INTERVAL_SECONDS="3600",
    )


def order_content(
    zones: list[dict[str, Any]] | None = None, windows: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "order_type": "IMMIGRATION",
        "start_date": (date.today() - timedelta(days=30)).isoformat(),
        "conditions": [
            {"type": "TRAIL", "device": "NON_FITTED"},
            {
                "type": "CHECKIN_SCHEDULE",
                "windows": windows
                if windows is not None
                else [{"day": d, "start": "09:00", "end": "10:00"} for d in ("MONDAY", "WEDNESDAY", "FRIDAY")],
            },
            *(zones or []),
        ],
    }


def circle(zone_type: str, lon: float, lat: float, radius_m: float = 500) -> dict[str, Any]:
    return {
        "type": "ZONE",
        "zone_type": zone_type,
        "device": "NON_FITTED",
        "geometry": {"kind": "CIRCLE", "centre": [lon, lat], "radius_m": radius_m},
        "description": f"{zone_type.lower()} zone",
    }


@dataclass
class Case:
    caseworker: Actor
    wearer_id: uuid.UUID
    order_id: uuid.UUID
    device_id: uuid.UUID
    device: SignedDevice | None = None  # the watch, when enrolled through the API (``make_signed_case``)

    @property
    def signed(self) -> SignedDevice:
        assert self.device is not None, "use make_signed_case for a watch that signs its requests"
        return self.device

    def watch(self, device_id: uuid.UUID | None = None) -> Actor:
        """The watch as a bare access-token actor: what an unsigned (refused) request would claim to be."""
        return Actor(
            role=Role.WATCH,
            id=device_id or self.device_id,
            wearer_id=self.wearer_id,
            device_id=device_id or self.device_id,
        )


@pytest.fixture
def make_case(db: Database, make_staff: Callable[..., Any]) -> Callable[..., Any]:
    """A caseworker with one wearer on an ACTIVE order whose submitted version monitors with a smartwatch."""
    from fieldwork.models import Order, OrderVersion, Wearer

    async def build(
        caseworker: Actor | None = None, content: dict[str, Any] | None = None, fitted: bool = False
    ) -> Case:
        caseworker = caseworker or await make_staff(Role.CASEWORKER)
        body = content or order_content()
        if fitted:
            body = {"conditions": [{"type": "TRAIL", "device": "FITTED"}]}
        async with db.transaction() as s:
            wearer = Wearer(
                caseworker_id=caseworker.id,
                first_name="Test",
                last_name="Wearer",
                aliases=[],
                disabilities=[],
                interpreter_required=False,
                no_fixed_abode=False,
            )
            s.add(wearer)
            await s.flush()
            order = Order(
                wearer_id=wearer.id,
                status="ACTIVE",
                order_type="IMMIGRATION",
                current_number=1,
                activated_at=utcnow() - timedelta(days=1),
            )
            s.add(order)
            await s.flush()
            s.add(OrderVersion(order_id=order.id, number=1, request_type="REQUEST", status="SUBMITTED", content=body))
        case = Case(caseworker=caseworker, wearer_id=wearer.id, order_id=order.id, device_id=uuid.uuid4())
        await _register_watch(db, case)
        return case

    return build


@pytest.fixture
def make_watch(client: Any, make_staff: Callable[..., Any], token_for: Callable[..., dict[str, str]]) -> Any:
    """A watch enrolled in the device registry through the API by a field officer, with a fresh Ed25519 key and a
    device token; given a case, it becomes that case's watch (check-in enrolment binds it to the wearer)."""

    async def build(case: Case | None = None) -> SignedDevice:
        officer = await make_staff(Role.FIELD_OFFICER, team="north")
        watch = await enrol_device(client, token_for(officer))
        if case is not None:
            case.device_id = uuid.UUID(watch.device_id)
            case.device = watch
        return watch

    return build


@pytest.fixture
def make_signed_case(make_case: Callable[..., Any], make_watch: Callable[..., Any]) -> Callable[..., Any]:
    """``make_case`` with a watch enrolled through the device API that signs its requests (``case.signed``)."""

    async def build(**kwargs: Any) -> Case:
        case: Case = await make_case(**kwargs)
        await make_watch(case)
        return case

    return build


async def _register_watch(db: Database, case: Case) -> None:
    """For tests without the API: the watch as a device registry row with a key nobody holds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from security.devices import thumbprint
    from security.models import Device

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    async with db.transaction() as s:
        s.add(
            Device(
                id=case.device_id,
                kind="watch",
                label="test watch",
                status="active",
                key_algorithm="Ed25519",
                public_key=pem,
                key_thumbprint=thumbprint(public),
                enrolled_by=case.caseworker.id,
            )
        )


def compliant_posture(now: datetime | None = None, **changes: Any) -> dict[str, Any]:
    now = now or utcnow()
    posture: dict[str, Any] = {
        "platform": "wearos",
        "os_version": "5.1",
        "security_patch": (now.date() - timedelta(days=1)).isoformat(),
        "model": "Test Watch",
        "encrypted": True,
        "screen_lock": True,
        "rooted": False,
        "attestation": {
            "kind": "android_key",
            "chain_valid": True,
            "security_level": "TEE",
            "verified_boot_state": "VERIFIED",
            "bootloader_locked": True,
        },
        "reported_at": now.isoformat(),
    }
    posture.update(changes)
    return posture


def checkin_body(
    nonce: str, frames: list[bytes], *, lon: float = LONDON[0], lat: float = LONDON[1], **extra: Any
) -> dict[str, Any]:
    import base64

    body = {
        "nonce": nonce,
        "frames": [base64.b64encode(f).decode() for f in frames],
        "location": {"latitude": lat, "longitude": lon, "accuracy_m": 12.0},
        "device_time": utcnow().isoformat(),
        "posture": compliant_posture(),
    }
    body.update(extra)
    return body
