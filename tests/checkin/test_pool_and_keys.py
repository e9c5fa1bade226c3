"""Backpressure of the verification pool (202 with a status URL, 503 when full), liveness required by default, and
the keys that seal templates and photos."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from checkin.keys import DEV_KEY_ID, KeyConfigError, keys_for, parse_keys, photo_aad
from core.settings import Settings
from security.actor import Role
from tests.checkin.conftest import checkin_body, photo
from tests.checkin.test_checkins import enrol, prompt_for
from tests.conftest import TEST_HOST
from tests.devices import enrol_device

Client = AsyncTestClient[Litestar]


async def test_a_busy_pool_answers_202_with_a_status_url_and_a_full_one_503(
    app: Litestar, client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any]
) -> None:
    case = await make_signed_case()
    await enrol(client, token_for, case)
    pool = app.state.verifier
    prompt = await prompt_for(client, token_for, case)
    url = f"/api/v1/checkin/prompts/{prompt['id']}/checkins"
    body = checkin_body(prompt["nonce"], [photo("obama2.jpg")])

    pool.in_flight += pool.capacity  # every worker busy and the queue full
    try:
        full = await case.signed.post(client, url, body)
    finally:
        pool.in_flight -= pool.capacity
    assert full.status_code == 503
    assert full.json()["code"] == "VERIFICATION_BUSY"

    pool.in_flight += pool.sync_limit  # every worker busy and one job waiting for each, room in the queue
    try:
        accepted = await case.signed.post(client, url, body)
    finally:
        pool.in_flight -= pool.sync_limit
    assert accepted.status_code == 202, accepted.text
    status_url = accepted.json()["status_url"]
    assert accepted.headers["location"] == status_url
    for _ in range(120):
        status = await case.signed.get(client, status_url)
        if status.json()["status"] != "PROCESSING":
            break
        await asyncio.sleep(0.25)
    assert status.json()["status"] == "VERIFIED"
    # the caseworker may read it too; another caseworker may not
    assert (await client.get(status_url, headers=token_for(case.caseworker))).status_code == 200


async def test_by_default_a_single_photo_without_the_challenge_is_referred(
    settings_for: Callable[..., Settings], db: Any, make_case: Callable[..., Any], make_staff: Callable[..., Any]
) -> None:
    settings = settings_for(EMON_BIOMETRICS_WORKERS="1", EMON_CHECKIN_SWEEP_INTERVAL_SECONDS="3600")
    assert settings.checkin.require_liveness
    app = create_app(settings)
    async with AsyncTestClient(app, base_url=f"http://{TEST_HOST}") as client:

        def token_for(actor: Any) -> dict[str, str]:
            return {"Authorization": f"Bearer {app.state.tokens.issue_access_token(actor)[0]}"}

        case = await make_case()
        case.device = await enrol_device(client, token_for(await make_staff(Role.FIELD_OFFICER)))
        case.device_id = uuid.UUID(case.device.device_id)
        await enrol(client, token_for, case)
        prompt = await prompt_for(client, token_for, case)
        response = await case.signed.post(
            client,
            f"/api/v1/checkin/prompts/{prompt['id']}/checkins",
            checkin_body(prompt["nonce"], [photo("obama2.jpg")]),
        )
    assert response.json()["status"] == "REFERRED"
    assert response.json()["reasons"] == ["LIVENESS_NOT_PERFORMED"]


def test_development_derives_a_stable_key_from_the_secret_and_says_so(settings_for: Callable[..., Settings]) -> None:
    keys = keys_for(settings_for())
    again = keys_for(settings_for())
    assert keys.derived_for_development
    assert keys.current_key_id == DEV_KEY_ID
    aad = photo_aad("id", "wearer", "sha")
    key_id, blob = keys.seal_photo(b"\xff\xd8 a photo", aad)
    assert again.open_photo(key_id, blob, aad) == b"\xff\xd8 a photo"
    assert not blob.startswith(b"\xff\xd8")
    with pytest.raises(KeyConfigError):
        keys.open_photo(key_id, blob, photo_aad("other-id", "wearer", "sha"))


def test_configured_keys_are_used_and_malformed_ones_refused(settings_for: Callable[..., Settings]) -> None:
    first = base64.b64encode(b"1" * 32).decode()
    old = base64.b64encode(b"2" * 32).decode()
    keys = keys_for(settings_for(EMON_BIOMETRICS_TEMPLATE_KEYS=f"2026-11:{first},2026-05:{old}"))
    assert keys.current_key_id == "2026-11"
    assert not keys.derived_for_development
    for bad in ("nokey", "k:not-base64!", "k:" + base64.b64encode(b"short").decode()):
        with pytest.raises(KeyConfigError):
            parse_keys(bad)
