"""The watch proves itself on every check-in request: its key-bound device token AND a fresh signature by the same
key. Check-in enrolment binds the watch's device record to the wearer, and only an enrolled, active watch bound to
nobody else can be enrolled. Check-ins are rate-limited per watch."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.db import Database
from security.actor import Role
from security.devices import bind_watch_to_wearer
from security.models import Device
from tests.checkin.conftest import Case, checkin_body, photo
from tests.checkin.test_checkins import enrol, prompt_for
from tests.devices import SignedDevice, enrol_device

Client = AsyncTestClient[Litestar]
PENDING = "/api/v1/checkin/prompts/pending"
HISTORY = "/api/v1/checkin/history"


def _submit_url(prompt: dict[str, Any]) -> str:
    return f"/api/v1/checkin/prompts/{prompt['id']}/checkins"


async def test_watch_routes_refuse_an_unsigned_request_even_with_a_valid_watch_token(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any]
) -> None:
    case: Case = await make_signed_case()
    await enrol(client, token_for, case)
    prompt = await prompt_for(client, token_for, case)
    body = checkin_body(prompt["nonce"], [photo("obama2.jpg")])
    bare = token_for(case.watch())  # role watch, device and wearer claims, but no key binding and no signature
    device_token = {"Authorization": f"Bearer {case.signed.token}"}  # the real device token, unsigned

    for headers in (bare, device_token):
        assert (await client.get(PENDING, headers=headers)).status_code == 401
        assert (await client.get(HISTORY, headers=headers)).status_code == 401
        assert (await client.get(f"/api/v1/checkin/checkins/{uuid.uuid4()}", headers=headers)).status_code == 401
        refused = await client.post(_submit_url(prompt), json=body, headers=headers)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    # a signature without the device token is no better
    unsigned_token = case.signed.signed_headers("GET", PENDING, token=False)
    assert (await client.get(PENDING, headers=unsigned_token)).status_code == 401
    # the same watch, signing: accepted
    assert (await case.signed.get(client, PENDING)).status_code == 200


async def test_a_replayed_signed_check_in_and_another_devices_signature_are_refused(
    client: Client,
    token_for: Callable[..., dict[str, str]],
    make_signed_case: Callable[..., Any],
    make_watch: Callable[..., Any],
    db: Database,
) -> None:
    case: Case = await make_signed_case()
    await enrol(client, token_for, case)
    prompt = await prompt_for(client, token_for, case)
    url = _submit_url(prompt)
    body = checkin_body(prompt["nonce"], [photo("obama2.jpg")])

    other: SignedDevice = await make_watch()
    forged = await case.signed.post(client, url, body, signer=other.key)  # our token, their key
    assert forged.status_code == 401
    swapped = await client.post(  # their token and key, claiming our device id
        url,
        content=b"{}",
        headers={
            **other.signed_headers("POST", url, b"{}"),
            "X-Device-Id": case.signed.device_id,
        },
    )
    assert swapped.status_code == 401

    nonce = uuid.uuid4().hex
    first = await case.signed.post(client, url, body, nonce=nonce)
    assert first.status_code == 200, first.text
    replayed = await case.signed.post(client, url, body, nonce=nonce)
    assert replayed.status_code == 401  # the request nonce is spent before the prompt's own nonce is looked at
    pending_replay = await case.signed.get(client, PENDING, nonce=nonce)
    assert pending_replay.status_code == 401


async def test_check_ins_are_rate_limited_per_watch(
    client: Client,
    app: Litestar,
    token_for: Callable[..., dict[str, str]],
    make_signed_case: Callable[..., Any],
    make_watch: Callable[..., Any],
    db: Database,
) -> None:
    case: Case = await make_signed_case()
    async with db.transaction() as s:  # bound without the photo work: this is about the limit alone
        await bind_watch_to_wearer(s, case.device_id, case.wearer_id)
    limit = app.state.settings.security.checkin_rate_per_minute
    url = f"/api/v1/checkin/prompts/{uuid.uuid4()}/checkins"
    body = checkin_body("0" * 64, [b"not a picture"])
    for _ in range(limit):
        assert (await case.signed.post(client, url, body)).status_code == 415  # counted, then refused on its merits
    limited = await case.signed.post(client, url, body)
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(limited.headers["retry-after"]) <= 60
    # per watch: another wearer's watch is not held back by this one
    other = await make_signed_case(caseworker=case.caseworker)
    async with db.transaction() as s:
        await bind_watch_to_wearer(s, other.device_id, other.wearer_id)
    assert (await other.signed.post(client, url, body)).status_code == 415
    # reading is not a check-in
    assert (await case.signed.get(client, PENDING)).status_code == 204


async def test_enrolment_binds_the_watch_to_the_wearer_and_only_an_active_unbound_watch_can_be_enrolled(
    client: Client,
    token_for: Callable[..., dict[str, str]],
    make_signed_case: Callable[..., Any],
    make_watch: Callable[..., Any],
    make_staff: Callable[..., Any],
    db: Database,
) -> None:
    case: Case = await make_signed_case()
    watch = case.signed
    assert "wearer" not in watch.claims()
    assert (await watch.get(client, PENDING)).status_code == 403  # enrolled as a device, not yet for a wearer

    await enrol(client, token_for, case)
    await watch.fetch_token(client)
    assert watch.claims()["wearer"] == str(case.wearer_id)
    assert watch.claims()["device"] == watch.device_id
    async with db.transaction() as s:
        assert (await s.get(Device, case.device_id)).wearer_id == case.wearer_id  # type: ignore[union-attr]
    assert (await watch.get(client, PENDING)).status_code == 204

    def enrolment(wearer_id: uuid.UUID, device_id: str) -> dict[str, Any]:
        return {
            "wearer_id": str(wearer_id),
            "device_id": device_id,
            "photos": [base64.b64encode(photo("obama.jpg")).decode()],
        }

    async def try_enrol(wearer_id: uuid.UUID, device_id: str) -> Any:
        return await client.post(
            "/api/v1/checkin/enrolments", json=enrolment(wearer_id, device_id), headers=token_for(case.caseworker)
        )

    other = await make_signed_case(caseworker=case.caseworker)
    taken = await try_enrol(other.wearer_id, watch.device_id)
    assert (taken.status_code, taken.json()["code"]) == (409, "DEVICE_IN_USE")
    unknown = await try_enrol(other.wearer_id, str(uuid.uuid4()))
    assert (unknown.status_code, unknown.json()["code"]) == (422, "DEVICE_UNKNOWN")
    officer = await make_staff(Role.FIELD_OFFICER, team="north")
    phone = await enrol_device(client, token_for(officer), kind="phone")
    not_a_watch = await try_enrol(other.wearer_id, phone.device_id)
    assert (not_a_watch.status_code, not_a_watch.json()["code"]) == (422, "DEVICE_NOT_A_WATCH")
    supervisor = await make_staff(Role.SUPERVISOR)
    suspended = await make_watch()
    response = await client.post(
        f"/api/v1/devices/{suspended.device_id}/status",
        json={"status": "suspended", "reason": "reported lost"},
        headers=token_for(supervisor),
    )
    assert response.status_code in (200, 201), response.text
    inactive = await try_enrol(other.wearer_id, suspended.device_id)
    assert (inactive.status_code, inactive.json()["code"]) == (409, "DEVICE_NOT_ACTIVE")
    async with db.transaction() as s:  # none of the refusals bound anything
        assert (await s.get(Device, other.device_id)).wearer_id is None  # type: ignore[union-attr]
        assert (await s.get(Device, uuid.UUID(suspended.device_id))).wearer_id is None  # type: ignore[union-attr]

    # a replacement watch takes over: the old one is unbound and no longer acts for the wearer
    replacement = await make_watch()
    swapped = await try_enrol(case.wearer_id, replacement.device_id)
    assert swapped.status_code == 201, swapped.text
    assert (await replacement.get(client, PENDING)).status_code == 204
    assert (await watch.get(client, PENDING)).status_code == 403
    async with db.transaction() as s:
        assert (await s.get(Device, case.device_id)).wearer_id is None  # type: ignore[union-attr]
    # and, unbound, it may now be enrolled for another wearer
    reused = await try_enrol(other.wearer_id, watch.device_id)
    assert reused.status_code == 201, reused.text
