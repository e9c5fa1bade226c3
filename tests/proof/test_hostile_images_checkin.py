"""The hostile-image corpus against the routes whose JSON bodies carry images (check-in frames, enrolment photos),
in process with the real verification pool: each image is refused with a 4xx problem+json or decided normally, the
worker pool survives (a genuine check-in verifies afterwards) and the workers' peak memory stays bounded."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.checkin.conftest import checkin_body, make_case, make_signed_case, make_watch, photo
from tests.proof.hostile_images import corpus

pytestmark = pytest.mark.slow
__all__ = ["make_case", "make_signed_case", "make_watch"]  # the check-in package's fixtures, used here

CHECKIN = ("POST", "/api/v1/checkin/prompts/{prompt_id}/checkins")
ENROLMENT = ("POST", "/api/v1/checkin/enrolments")
#: Every JSON route carrying images that this module sends the corpus to (the server-side test checks that no
#: image-carrying route is missing from here).
COVERED_JSON_IMAGE_ROUTES = {CHECKIN, ENROLMENT}
WORKER_RSS_LIMIT_MIB = 900


@pytest.fixture
def backend() -> str:
    return "sqlite"  # decoding and the pool are the point; the database adds nothing here


@pytest.fixture
def settings(settings_for: Callable[..., Any], tmp_path: Path) -> Any:
    return settings_for(
        EMON_BIOMETRICS_WORKERS="1",
        EMON_CHECKIN_REQUIRE_LIVENESS="false",
        EMON_CHECKIN_SWEEP_INTERVAL_SECONDS="3600",
        EMON_SECURITY_API_RATE_PER_MINUTE="100000",
        EMON_SECURITY_CHECKIN_RATE_PER_MINUTE="100000",
        EMON_FIELDWORK_PHOTO_DIR=str(tmp_path / "photos"),
    )


def _children_peak_rss_mib() -> dict[int, float]:
    import os

    peaks: dict[int, float] = {}
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                for line in Path(f"/proc/{child}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[child] = int(line.split()[1]) / 1024
            except OSError:
                continue
    return peaks


def _judge(name: str, expect: str, response: Any, failures: list[str]) -> str:
    status = response.status_code
    if status >= 500:
        failures.append(f"{name}: {status} {response.text[:200]}")
    elif expect == "refuse" and status < 400:
        failures.append(f"{name}: accepted ({status} {response.text[:120]})")
    if status >= 400 and not response.headers.get("content-type", "").startswith("application/problem+json"):
        failures.append(f"{name}: {status} not problem+json")
    decided = response.json().get("status") if status < 400 else response.json().get("code")
    return f"{status} {decided}"


async def test_check_in_frames_and_enrolment_photos_refuse_hostile_images_and_the_pool_survives(
    client: AsyncTestClient[Litestar], token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any]
) -> None:
    genuine_reference, genuine_checkin = photo("obama.jpg"), photo("obama2.jpg")
    images = corpus()
    failures: list[str] = []
    outcomes: dict[str, list[str]] = {}
    client.timeout = 120  # type: ignore[assignment]
    case = await make_signed_case()
    staff = token_for(case.caseworker)

    async def enrol(photos: list[bytes]) -> Any:
        body = {
            "wearer_id": str(case.wearer_id),
            "device_id": str(case.device_id),
            "photos": [base64.b64encode(p).decode() for p in photos],
        }
        return await client.post(ENROLMENT[1], json=body, headers=staff)

    for name, expect, data in images:
        # an accepted odd image has no face in it, so enrolment refuses it for that reason (422), never 5xx
        response = await enrol([data])
        outcomes.setdefault(name, []).append("enrol " + _judge(name, expect, response, failures))

    enrolled = await enrol([genuine_reference])
    assert enrolled.status_code == 201, enrolled.text

    async def new_prompt() -> dict[str, Any]:
        asked = await client.post(f"/api/v1/checkin/wearers/{case.wearer_id}/prompts", headers=staff)
        assert asked.status_code == 201, asked.text
        pending = await case.signed.get(client, "/api/v1/checkin/prompts/pending")
        assert pending.status_code == 200, pending.text
        return dict(pending.json())

    prompt = await new_prompt()
    for name, expect, data in images:
        url = CHECKIN[1].replace("{prompt_id}", prompt["id"])
        response = await case.signed.post(client, url, checkin_body(prompt["nonce"], [data]))
        outcomes[name].append("check-in " + _judge(name, expect, response, failures))
        if response.status_code < 400:  # decided (no face: rejected or referred): the prompt is spent
            prompt = await new_prompt()

    url = CHECKIN[1].replace("{prompt_id}", prompt["id"])
    genuine = await case.signed.post(client, url, checkin_body(prompt["nonce"], [genuine_checkin]))
    peaks = _children_peak_rss_mib()
    report = "\n".join(f"  {name}: {', '.join(results)}" for name, results in outcomes.items())
    print(f"hostile images on check-in routes ({len(images)}):\n{report}\nworker peak RSS MiB: {peaks}")
    assert not failures, "\n".join(failures)
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["status"] == "VERIFIED"
    assert peaks
    assert max(peaks.values()) < WORKER_RSS_LIMIT_MIB
