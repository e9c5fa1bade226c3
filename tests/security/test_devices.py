"""Devices: an officer enrols a phone or watch with its public key and posture; afterwards the device proves itself
on every request with a key-bound token AND a fresh signature. Replays, stale clocks, other keys and other wearers
are refused."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db import Database
from security.actor import Actor, Role
from security.audit import AuditEvent
from security.auth import requires
from security.devices import bind_watch_to_wearer, canonical_request, ensure_acts_for, parse_public_key, signed_device
from security.models import DevicePosture
from tests.security.conftest import POSTURE, DeviceKey, device_token, enrol, new_device_key

Client = AsyncTestClient[Litestar]
POSTURE_PATH = "/api/v1/devices/posture"


async def _post_posture(client: Client, key: DeviceKey, token: str, **header_overrides: Any) -> Any:
    body = json.dumps(POSTURE).encode()
    headers = key.headers("POST", POSTURE_PATH, body, **header_overrides)
    headers["Authorization"] = f"Bearer {token}"
    return await client.post(POSTURE_PATH, content=body, headers=headers)


async def _enrolled(client: Client, make_staff, token_for, kind: str = "watch") -> tuple[DeviceKey, str, Actor]:
    officer = await make_staff(Role.FIELD_OFFICER, team="north")
    key = new_device_key()
    await enrol(client, token_for(officer), key, kind)
    return key, await device_token(client, key), officer


async def test_enrolment_records_the_key_posture_and_an_audit_entry(
    client: Client, make_staff, token_for, db: Database
) -> None:
    officer = await make_staff(Role.FIELD_OFFICER, team="north")
    key = new_device_key()
    device = await enrol(client, token_for(officer), key)
    assert device["status"] == "active"
    assert device["key_algorithm"] == "Ed25519"
    assert device["wearer_id"] is None
    async with db.transaction() as s:
        postures = (await s.execute(select(DevicePosture))).scalars().all()
        actions = (await s.execute(select(AuditEvent.action))).scalars().all()
    assert [p.platform for p in postures] == ["wearos"]
    assert "device.enrol" in actions
    again = await client.post(
        "/api/v1/devices",
        json={"kind": "watch", "label": "dup", "public_key": key.public_b64, "posture": POSTURE},
        headers=token_for(officer),
    )
    assert again.status_code == 409


async def test_a_caseworker_cannot_enrol_and_an_officer_sees_only_their_team(
    client: Client, make_staff, token_for
) -> None:
    caseworker = await make_staff(Role.CASEWORKER)
    key = new_device_key()
    refused = await client.post(
        "/api/v1/devices",
        json={"kind": "watch", "label": "w", "public_key": key.public_b64, "posture": POSTURE},
        headers=token_for(caseworker),
    )
    assert refused.status_code == 403
    north = await make_staff(Role.FIELD_OFFICER, team="north")
    south = await make_staff(Role.FIELD_OFFICER, team="south")
    device = await enrol(client, token_for(north), key)
    assert (await client.get(f"/api/v1/devices/{device['id']}", headers=token_for(north))).status_code == 200
    assert (await client.get(f"/api/v1/devices/{device['id']}", headers=token_for(south))).status_code == 404
    assert (await client.get("/api/v1/devices", headers=token_for(south))).json()["total"] == 0


async def test_p256_keys_in_pem_are_accepted_and_rsa_is_not() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = p256.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert parse_public_key(pem)[1] == "P-256"
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    import pytest

    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        parse_public_key(rsa_pem)


async def test_a_signed_request_with_the_device_token_is_accepted(client: Client, make_staff, token_for) -> None:
    key, token, _ = await _enrolled(client, make_staff, token_for)
    response = await _post_posture(client, key, token)
    assert response.status_code == 201, response.text
    assert response.json()["device_id"] == key.device_id


async def test_a_replayed_request_is_refused(client: Client, make_staff, token_for) -> None:
    key, token, _ = await _enrolled(client, make_staff, token_for)
    nonce = uuid.uuid4().hex
    assert (await _post_posture(client, key, token, nonce=nonce)).status_code == 201
    replay = await _post_posture(client, key, token, nonce=nonce)
    assert replay.status_code == 401


async def test_a_stale_or_future_timestamp_is_refused(client: Client, make_staff, token_for) -> None:
    key, token, _ = await _enrolled(client, make_staff, token_for)
    assert (await _post_posture(client, key, token, timestamp=int(time.time()) - 600)).status_code == 401
    assert (await _post_posture(client, key, token, timestamp=int(time.time()) + 600)).status_code == 401


async def test_a_signature_by_another_key_is_refused(client: Client, make_staff, token_for) -> None:
    key, token, _ = await _enrolled(client, make_staff, token_for)
    response = await _post_posture(client, key, token, signer=ed25519.Ed25519PrivateKey.generate())
    assert response.status_code == 401


async def test_a_tampered_body_is_refused(client: Client, make_staff, token_for) -> None:
    key, token, _ = await _enrolled(client, make_staff, token_for)
    signed = json.dumps(POSTURE).encode()
    headers = key.headers("POST", POSTURE_PATH, signed)
    headers["Authorization"] = f"Bearer {token}"
    tampered = json.dumps({**POSTURE, "rooted": True}).encode()
    assert (await client.post(POSTURE_PATH, content=tampered, headers=headers)).status_code == 401


async def test_one_devices_token_with_another_devices_signature_is_refused(
    client: Client, make_staff, token_for
) -> None:
    _, first_token, officer = await _enrolled(client, make_staff, token_for)
    second = new_device_key()
    await enrol(client, token_for(officer), second)
    response = await _post_posture(client, second, first_token)
    assert response.status_code == 401


async def test_a_staff_token_cannot_call_a_device_route(client: Client, make_staff, token_for) -> None:
    key, _, officer = await _enrolled(client, make_staff, token_for)
    assert (await _post_posture(client, key, token_for(officer)["Authorization"][7:])).status_code == 403


async def test_a_suspended_device_loses_its_token_and_cannot_get_another(client: Client, make_staff, token_for) -> None:
    key, token, _ = await _enrolled(client, make_staff, token_for)
    supervisor = await make_staff(Role.SUPERVISOR)
    changed = await client.post(
        f"/api/v1/devices/{key.device_id}/status",
        json={"status": "suspended", "reason": "reported lost"},
        headers=token_for(supervisor),
    )
    assert changed.status_code == 201
    assert (await _post_posture(client, key, token)).status_code == 401
    path = "/api/v1/devices/token"
    assert (await client.post(path, content=b"", headers=key.headers("POST", path))).status_code == 401


async def test_a_watch_acts_only_for_its_own_wearer(app: Litestar, make_staff, token_for, db: Database) -> None:
    @get(
        "/test/wearers/{wearer_id:uuid}/whoami",
        guards=[requires(Role.WATCH)],
        dependencies={"device": Provide(signed_device)},
        sync_to_thread=False,
    )
    async def whoami(device: NamedDependency[Actor], wearer_id: FromPath[uuid.UUID]) -> dict[str, str]:
        ensure_acts_for(device, wearer_id)
        return {"wearer": str(device.wearer_id)}

    app.register(whoami)
    own, other = uuid.uuid4(), uuid.uuid4()
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        key, _, _ = await _enrolled(client, make_staff, token_for)
        async with db.transaction() as s:
            await bind_watch_to_wearer(s, uuid.UUID(key.device_id), own)
        token = await device_token(client, key)

        async def call(wearer: uuid.UUID) -> int:
            path = f"/test/wearers/{wearer}/whoami"
            headers = key.headers("GET", path)
            headers["Authorization"] = f"Bearer {token}"
            return (await client.get(path, headers=headers)).status_code

        assert await call(own) == 200
        assert await call(other) == 404


def test_the_canonical_string_covers_method_path_body_time_nonce_and_device() -> None:
    message = canonical_request("post", "/a?b=1", b"{}", "1700000000", "n" * 16, "dev")
    lines = message.decode().split("\n")
    assert lines[0] == "EMON-DEVICE-SIG-V1"
    assert lines[1:3] == ["POST", "/a?b=1"]
    assert lines[3] == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    assert lines[4:] == ["1700000000", "n" * 16, "dev"]


async def test_only_a_watch_can_be_bound_to_a_wearer(client: Client, make_staff, token_for, db: Database) -> None:
    import pytest

    from core.errors import NotFound

    phone, _, _ = await _enrolled(client, make_staff, token_for, kind="phone")
    async with db.transaction() as s:
        with pytest.raises(NotFound):
            await bind_watch_to_wearer(s, uuid.UUID(phone.device_id), uuid.uuid4())


def test_the_signed_path_carries_the_query_string_once_whatever_the_server_puts_in_raw_path() -> None:
    from security.devices import _path_and_query

    asgi = {"raw_path": b"/api/v1/checkin/prompts/pending", "path": "/x", "query_string": b"wait=5"}
    with_query = {**asgi, "raw_path": b"/api/v1/checkin/prompts/pending?wait=5"}
    assert _path_and_query(asgi) == _path_and_query(with_query) == "/api/v1/checkin/prompts/pending?wait=5"
    assert _path_and_query({"path": "/a", "query_string": b""}) == "/a"
