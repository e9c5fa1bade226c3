"""Check-ins through the API with real photos: enrol with one photo of a person, check in with others.

Each test here runs on SQLite and on PostgreSQL. Face encodings are slow on two shared cores, so each test enrols
once and submits only the check-ins it is about.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from checkin.models import Alert, Checkin, Image, Prompt, Template
from core.clock import utcnow
from core.db import Database
from security.actor import Actor, Role
from security.audit import AuditEvent
from security.devices import bind_watch_to_wearer
from security.models import Device, DevicePosture
from tests.checkin.conftest import LONDON, Case, checkin_body, circle, compliant_posture, order_content, photo

Client = AsyncTestClient[Litestar]


async def enrol(client: Client, token_for: Callable[..., dict[str, str]], case: Case, name: str = "obama.jpg") -> None:
    body = {
        "wearer_id": str(case.wearer_id),
        "device_id": str(case.device_id),
        "photos": [base64.b64encode(photo(name)).decode()],
    }
    response = await client.post("/api/v1/checkin/enrolments", json=body, headers=token_for(case.caseworker))
    assert response.status_code == 201, response.text


async def prompt_for(client: Client, token_for: Callable[..., dict[str, str]], case: Case) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/checkin/wearers/{case.wearer_id}/prompts", headers=token_for(case.caseworker)
    )
    assert response.status_code == 201, response.text
    pending = await case.signed.get(client, "/api/v1/checkin/prompts/pending")
    assert pending.status_code == 200, pending.text
    assert pending.json()["id"] == response.json()["id"]
    return pending.json()


async def check_in(
    client: Client,
    token_for: Callable[..., dict[str, str]],
    case: Case,
    prompt: dict[str, Any],
    frames: list[bytes],
    **extra: Any,
) -> Any:
    """The case's watch submits a check-in, signed with its key."""
    return await case.signed.post(
        client, f"/api/v1/checkin/prompts/{prompt['id']}/checkins", checkin_body(prompt["nonce"], frames, **extra)
    )


async def test_a_genuine_photo_verifies_an_impostor_is_rejected_and_a_replayed_photo_is_referred(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any], db: Database
) -> None:
    case = await make_signed_case()
    await enrol(client, token_for, case)

    genuine = await check_in(client, token_for, case, await prompt_for(client, token_for, case), [photo("obama2.jpg")])
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["status"] == "VERIFIED", genuine.json()

    impostor = await check_in(client, token_for, case, await prompt_for(client, token_for, case), [photo("biden.jpg")])
    assert impostor.json()["status"] == "REJECTED"
    assert "NO_MATCH" in impostor.json()["reasons"]

    replay = await check_in(client, token_for, case, await prompt_for(client, token_for, case), [photo("obama2.jpg")])
    assert replay.json()["status"] == "REFERRED"
    assert "SUSPECTED_REPLAY" in replay.json()["reasons"]

    async with db.transaction() as s:
        kinds = dict((await s.execute(select(Alert.kind, func.count()).group_by(Alert.kind))).all())
        decision = (await s.execute(select(Checkin).where(Checkin.id == uuid.UUID(genuine.json()["id"])))).scalar_one()
        images = (await s.execute(select(Image))).scalars().all()
    assert kinds == {"REJECTED": 1, "REFERRED": 1}  # a verified check-in raises nothing
    assert decision.distance is not None
    assert decision.distance <= 0.5
    assert decision.policy_version
    assert decision.model_id
    assert decision.key_id
    assert decision.verification
    assert "libraries" in str(decision.verification)
    assert "encoding" not in str(decision.verification)
    # photos are stored, but only as ciphertext: no JPEG or PNG magic in any row
    assert images
    assert all(not i.ciphertext.startswith((b"\xff\xd8", b"\x89PNG")) for i in images)


async def test_a_spent_or_wrong_nonce_and_a_late_prompt_are_refused(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any], db: Database
) -> None:
    case = await make_signed_case()
    await enrol(client, token_for, case)
    prompt = await prompt_for(client, token_for, case)

    wrong = await check_in(client, token_for, case, {**prompt, "nonce": "0" * 64}, [photo("obama2.jpg")])
    assert (wrong.status_code, wrong.json()["code"]) == (409, "NONCE_MISMATCH")

    first = await check_in(client, token_for, case, prompt, [photo("obama2.jpg")])
    assert first.status_code == 200
    again = await check_in(client, token_for, case, prompt, [photo("obama2.jpg")])
    assert (again.status_code, again.json()["code"]) == (409, "NONCE_USED")
    async with db.transaction() as s:  # each refusal is on record, though its request's work rolled back
        refusals = (
            (
                await s.execute(
                    select(AuditEvent.details).where(AuditEvent.action == "checkin.refused").order_by(AuditEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert ['"NONCE_MISMATCH"' in r for r in refusals] == [True, False]
    assert '"NONCE_USED"' in refusals[1]

    late = await prompt_for(client, token_for, case)
    async with db.transaction() as s:  # its response window ran out a second ago
        await s.execute(
            update(Prompt).where(Prompt.id == uuid.UUID(late["id"])).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    refused = await check_in(client, token_for, case, late, [photo("obama2.jpg")])
    assert (refused.status_code, refused.json()["code"]) == (409, "PROMPT_EXPIRED")


async def test_hostile_images_get_a_clear_client_error_and_leave_the_prompt_open(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any], db: Database
) -> None:
    case = await make_signed_case()
    await enrol(client, token_for, case)
    prompt = await prompt_for(client, token_for, case)

    text_as_jpeg = await check_in(client, token_for, case, prompt, [b"<html>not a picture</html>" * 10])
    assert text_as_jpeg.status_code == 415
    assert text_as_jpeg.headers["content-type"].startswith("application/problem+json")

    jpeg = photo("obama2.jpg")
    truncated = await check_in(client, token_for, case, prompt, [jpeg[: len(jpeg) // 2]])
    assert truncated.status_code == 422
    assert truncated.json()["code"] == "IMAGE_UNREADABLE"

    async with db.transaction() as s:
        status = (await s.execute(select(Prompt.status).where(Prompt.id == uuid.UUID(prompt["id"])))).scalar_one()
        stored = (await s.execute(select(func.count()).select_from(Checkin))).scalar_one()
    assert status == "PENDING"
    assert stored == 0


async def test_a_watch_never_checks_in_for_another_wearer(
    client: Client,
    token_for: Callable[..., dict[str, str]],
    make_signed_case: Callable[..., Any],
    make_watch: Callable[..., Any],
    db: Database,
) -> None:
    mine = await make_signed_case()
    theirs = await make_signed_case(caseworker=mine.caseworker)
    await enrol(client, token_for, mine)
    prompt = await prompt_for(client, token_for, mine)
    url = f"/api/v1/checkin/prompts/{prompt['id']}/checkins"
    body = checkin_body(prompt["nonce"], [photo("obama2.jpg")])

    # a watch enrolled as a device but bound to nobody: not a watch of any wearer yet
    loose = await make_watch()
    refused = await loose.post(client, url, body)
    assert (refused.status_code, refused.json()["code"]) == (403, "DEVICE_NOT_ENROLLED")
    # the other wearer's watch, bound to its own wearer: our wearer's prompt does not exist for it
    async with db.transaction() as s:
        await bind_watch_to_wearer(s, theirs.device_id, theirs.wearer_id)
    assert (await theirs.signed.post(client, url, body)).status_code == 404
    # a token that claims our wearer for the other watch changes nothing: the wearer is the device record's
    forged = Actor(role=Role.WATCH, id=theirs.device_id, device_id=theirs.device_id, wearer_id=mine.wearer_id)
    theirs.signed.token, _ = client.app.state.tokens.issue_access_token(forged)
    assert (await theirs.signed.post(client, url, body)).status_code == 401  # not bound to the device key
    # staff cannot submit at all
    staff = await client.post(url, json=body, headers=token_for(mine.caseworker))
    assert staff.status_code == 403

    mine_done = await mine.signed.post(client, url, body)
    assert mine_done.status_code == 200, mine_done.text
    status_url = f"/api/v1/checkin/checkins/{mine_done.json()['id']}"
    await theirs.signed.fetch_token(client)
    assert (await theirs.signed.get(client, status_url)).status_code == 404
    assert (await mine.signed.get(client, status_url)).status_code == 200
    history = await theirs.signed.get(client, "/api/v1/checkin/history")
    assert (history.status_code, history.json()) == (200, [])


async def test_a_non_compliant_or_silent_watch_never_verifies(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any], db: Database
) -> None:
    case = await make_signed_case()
    await enrol(client, token_for, case)
    unsupported = await check_in(
        client,
        token_for,
        case,
        await prompt_for(client, token_for, case),
        [photo("obama2.jpg")],
        posture=compliant_posture(platform="tizen"),
    )
    assert unsupported.status_code == 200
    assert unsupported.json()["status"] == "REJECTED"
    assert "DEVICE_NON_COMPLIANT" in unsupported.json()["reasons"]

    silent = await check_in(
        client, token_for, case, await prompt_for(client, token_for, case), [photo("obama2.jpg")], posture={}
    )
    assert silent.json()["status"] == "REJECTED"
    assert {"DEVICE_NON_COMPLIANT", "DEVICE_NO_POSTURE_DATA"} <= set(silent.json()["reasons"])
    async with db.transaction() as s:
        alerts = (await s.execute(select(func.count()).select_from(Alert))).scalar_one()
        probes = (
            await s.execute(select(func.count()).select_from(Template).where(Template.kind == "CHECKIN"))
        ).scalar_one()
    assert alerts == 2
    assert probes == 0


async def test_the_posture_sent_with_a_check_in_joins_the_devices_one_posture_history(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any], db: Database
) -> None:
    case = await make_signed_case()
    await enrol(client, token_for, case)
    rooted = await check_in(
        client,
        token_for,
        case,
        await prompt_for(client, token_for, case),
        [photo("obama2.jpg")],
        posture=compliant_posture(platform="tizen", os_version="5.0", rooted=True),
    )
    assert rooted.json()["status"] == "REJECTED"  # judged by the published device policy, as before
    assert "DEVICE_NON_COMPLIANT" in rooted.json()["reasons"]
    silent = await check_in(
        client, token_for, case, await prompt_for(client, token_for, case), [photo("obama2.jpg")], posture={}
    )
    assert silent.json()["status"] == "REJECTED"

    async with db.transaction() as s:
        history = (
            (
                await s.execute(
                    select(DevicePosture)
                    .where(DevicePosture.device_id == case.device_id)
                    .order_by(DevicePosture.reported_at)
                )
            )
            .scalars()
            .all()
        )
        seen = (await s.execute(select(Device.last_seen_at).where(Device.id == case.device_id))).scalar_one()
    # device enrolment's report, then one per check-in, in the security package's table
    assert [(p.platform, p.os_version, p.rooted) for p in history] == [
        ("wearos", "5.1", False),
        ("tizen", "5.0", True),
        ("unknown", "", None),
    ]
    first, second = (json.loads(p.details) for p in history[1:])
    assert first["source"] == second["source"] == "checkin"
    assert first["checkin_id"] == rooted.json()["id"]
    assert second["readable"] is False
    assert history[1].attestation_format == "android_key"
    assert json.loads(history[1].attestation or "{}")["chain_valid"] is True  # the watch's claim, kept as evidence
    assert seen is not None


async def test_a_fix_inside_an_exclusion_zone_refers_a_matching_face(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any]
) -> None:
    content = order_content(
        zones=[circle("EXCLUSION", LONDON[0], LONDON[1], 300), circle("INCLUSION", LONDON[0], LONDON[1], 5000)]
    )
    case = await make_signed_case(content=content)
    await enrol(client, token_for, case)
    response = await check_in(client, token_for, case, await prompt_for(client, token_for, case), [photo("obama3.jpg")])
    assert response.json()["status"] == "REFERRED"
    assert "LOCATION_EXCLUSION_ZONE" in response.json()["reasons"]
    assert "LOCATION_OUTSIDE_INCLUSION_ZONE" not in response.json()["reasons"]
