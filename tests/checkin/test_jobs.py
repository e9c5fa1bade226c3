"""The background jobs: the missed-prompt sweeper, the daily scheduler and the retention purge; and the staff and
watch reads around them. No faces are compared here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from checkin import retention, scheduler, sweeper
from checkin.models import Alert, Checkin, Enrolment, FrameHash, Image, Prompt, RetentionRun, Template
from checkin.vocab import PromptStatus
from core.clock import utcnow
from core.db import Database
from core.settings import Settings
from security.actor import Role
from security.devices import bind_watch_to_wearer
from tests.checkin.conftest import Case, order_content
from tests.conftest import make_settings

Client = AsyncTestClient[Litestar]


async def add_prompts(db: Database, case: Case, count: int, *, expired: bool) -> list[uuid.UUID]:
    now = utcnow()
    ids = []
    async with db.transaction() as s:
        for i in range(count):
            issue = now - timedelta(minutes=30 if expired else 1, seconds=i)
            prompt = Prompt(
                wearer_id=case.wearer_id,
                order_id=case.order_id,
                kind="ON_DEMAND",
                prompt_date=issue.date(),
                issue_at=issue,
                expires_at=issue + timedelta(minutes=10),
                nonce=uuid.uuid4().hex * 2,
                challenge="NOD",
                status="PENDING",
            )
            s.add(prompt)
            await s.flush()
            ids.append(prompt.id)
    return ids


async def enrolled(db: Database, case: Case) -> uuid.UUID:
    """A check-in enrolment without the photo work: the row, and the watch bound to the wearer as enrolment does."""
    async with db.transaction() as s:
        await bind_watch_to_wearer(s, case.device_id, case.wearer_id)
        enrolment = Enrolment(
            wearer_id=case.wearer_id,
            order_id=case.order_id,
            device_id=case.device_id,
            status="ACTIVE",
            enrolled_by=case.caseworker.id,
        )
        s.add(enrolment)
        await s.flush()
        return enrolment.id


async def test_the_sweeper_marks_an_expired_prompt_missed_once_with_one_alert(
    db: Database, make_case: Callable[..., Any]
) -> None:
    case = await make_case()
    expired = await add_prompts(db, case, 3, expired=True)
    still_open = await add_prompts(db, case, 1, expired=False)

    first = await sweeper.sweep(db)
    second = await sweeper.sweep(db)

    assert (first.marked, first.alerted) == (3, 3)
    assert (second.marked, second.alerted) == (0, 0)
    async with db.transaction() as s:
        statuses = dict((await s.execute(select(Prompt.id, Prompt.status))).all())
        alerts = (await s.execute(select(Alert))).scalars().all()
    assert {statuses[i] for i in expired} == {"MISSED"}
    assert statuses[still_open[0]] == "PENDING"
    assert sorted(a.prompt_id for a in alerts) == sorted(expired)
    assert {a.kind for a in alerts} == {"MISSED"}


async def test_two_sweepers_racing_on_postgres_mark_and_alert_each_prompt_once(
    db: Database, make_case: Callable[..., Any], backend: str, database_url: str
) -> None:
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: there is no race to lose")
    case = await make_case()
    await add_prompts(db, case, 400, expired=True)
    other = Database(make_settings(database_url))  # a second instance: its own engine and connections
    try:
        results = await asyncio.gather(sweeper.sweep(db, batch=50), sweeper.sweep(other, batch=50))
    finally:
        await other.dispose()
    assert sum(r.marked for r in results) == 400
    assert sum(r.alerted for r in results) == 400
    async with db.transaction() as s:
        alerts = (await s.execute(select(func.count(), func.count(func.distinct(Alert.prompt_id))))).one()
        missed = (await s.execute(select(func.count()).where(Prompt.status == "MISSED"))).scalar_one()
    assert tuple(alerts) == (400, 400)
    assert missed == 400


async def test_the_scheduler_creates_a_prompt_per_window_once_at_most_five_a_day(
    db: Database, make_case: Callable[..., Any], settings: Settings
) -> None:
    day = date(2026, 11, 30)  # a Monday
    windows = [{"day": "MONDAY", "start": f"{h:02d}:00", "end": f"{h:02d}:45"} for h in range(8, 15)]
    case = await make_case(content=order_content(windows=windows))
    await enrolled(db, case)
    async with db.transaction() as s:
        created = await scheduler.schedule_prompts(s, settings, day)
    async with db.transaction() as s:
        again = await scheduler.schedule_prompts(s, settings, day)
        prompts = (await s.execute(select(Prompt).where(Prompt.wearer_id == case.wearer_id))).scalars().all()
    assert created == 5
    assert again == 0
    assert len(prompts) == 5
    assert len({p.nonce for p in prompts}) == 5
    for prompt in prompts:  # inside its window, with the whole response window too (windows are London time)
        hour = int(prompt.window_key.split("-")[1][:2])
        local = prompt.issue_at.astimezone(scheduler.ZoneInfo("Europe/London"))
        assert local.hour == hour
        assert prompt.expires_at - prompt.issue_at == timedelta(seconds=settings.checkin.response_window_seconds)


async def test_a_caseworker_prompts_only_their_own_caseload(
    client: Client,
    token_for: Callable[..., dict[str, str]],
    make_case: Callable[..., Any],
    make_staff: Any,
    db: Database,
) -> None:
    case = await make_case()
    await enrolled(db, case)
    stranger = await make_staff(Role.CASEWORKER)
    officer = await make_staff(Role.FIELD_OFFICER)
    url = f"/api/v1/checkin/wearers/{case.wearer_id}/prompts"
    assert (await client.post(url, headers=token_for(stranger))).status_code == 404
    assert (await client.post(url, headers=token_for(officer))).status_code == 403
    assert (await client.post(url, headers=token_for(case.watch()))).status_code == 403
    mine = await client.post(url, headers=token_for(case.caseworker))
    assert mine.status_code == 201
    assert len(mine.json()["nonce"]) == 64
    assert mine.json()["challenge"] in {"TURN_LEFT", "TURN_RIGHT", "NOD"}


async def test_the_watch_long_polls_for_its_prompt_and_sees_its_history_without_images(
    client: Client, token_for: Callable[..., dict[str, str]], make_signed_case: Callable[..., Any], db: Database
) -> None:
    case = await make_signed_case()
    await enrolled(db, case)
    watch = case.signed
    nothing = await watch.get(client, "/api/v1/checkin/prompts/pending?wait=1")
    assert nothing.status_code == 204
    await add_prompts(db, case, 1, expired=True)
    await sweeper.sweep(db)
    created = await client.post(f"/api/v1/checkin/wearers/{case.wearer_id}/prompts", headers=token_for(case.caseworker))
    pending = await watch.get(client, "/api/v1/checkin/prompts/pending?wait=5")
    assert pending.json()["id"] == created.json()["id"]

    history = await watch.get(client, "/api/v1/checkin/history")
    assert history.status_code == 200
    outcomes = [item["outcome"] for item in history.json()]
    assert outcomes == [None, "MISSED"]
    assert "frames" not in history.text
    assert "sha256" not in history.text


async def test_the_review_queue_holds_the_caseloads_missed_items_only(
    db: Database, make_case: Callable[..., Any], make_staff: Any, settings: Settings
) -> None:
    from checkin.service import Ctx, review_queue

    mine = await make_case()
    theirs = await make_case()
    await add_prompts(db, mine, 2, expired=True)
    await add_prompts(db, theirs, 1, expired=True)
    await sweeper.sweep(db)
    supervisor = await make_staff(Role.SUPERVISOR)
    async with db.transaction() as s:
        items = await review_queue(Ctx(s, mine.caseworker, settings))
        everything = await review_queue(Ctx(s, supervisor, settings))
    assert [i.kind for i in items] == ["MISSED", "MISSED"]
    assert {i.wearer_id for i in items} == {mine.wearer_id}
    assert len(everything) == 3


async def test_retention_counts_then_deletes_each_kind_after_its_period(
    db: Database, make_case: Callable[..., Any], settings: Settings
) -> None:
    case = await make_case()
    enrolment_id = await enrolled(db, case)
    prompts = await add_prompts(db, case, 2, expired=True)
    now = utcnow()
    old_image = now - timedelta(days=settings.retention.checkin_image_days + 1)
    old_record = now - timedelta(days=settings.retention.record_days + 1)
    async with db.transaction() as s:
        for prompt_id, received in zip(prompts, (old_image, old_record), strict=True):
            checkin = Checkin(
                prompt_id=prompt_id,
                wearer_id=case.wearer_id,
                order_id=case.order_id,
                enrolment_id=enrolment_id,
                device_id=case.device_id,
                status="VERIFIED",
                reasons=[],
                nonce="0" * 64,
                challenge="NOD",
                received_at=received,
                location={},
                device={},
                image_sha256=["a" * 64],
            )
            s.add(checkin)
            await s.flush()
            s.add(FrameHash(checkin_id=checkin.id, wearer_id=case.wearer_id, sha256="a" * 64, position=0))
            s.add(
                Image(
                    wearer_id=case.wearer_id,
                    checkin_id=checkin.id,
                    kind="CHECKIN",
                    position=0,
                    sha256="a" * 64,
                    content_type="image/jpeg",
                    key_id="k",
                    ciphertext=b"sealed",
                    created_at=received,
                )
            )
            s.add(
                Template(
                    wearer_id=case.wearer_id,
                    checkin_id=checkin.id,
                    kind="CHECKIN",
                    image_sha256="a" * 64,
                    key_id="k",
                    template_version=1,
                    model_id="m",
                    ciphertext=b"sealed",
                    created_at=received,
                )
            )
        s.add(
            Template(
                wearer_id=case.wearer_id,
                enrolment_id=enrolment_id,
                kind="REFERENCE",
                image_sha256="b" * 64,
                key_id="k",
                template_version=1,
                model_id="m",
                ciphertext=b"sealed",
            )
        )
        fresh = Image(
            wearer_id=case.wearer_id,
            enrolment_id=enrolment_id,
            kind="ENROLMENT",
            position=0,
            sha256="c" * 64,
            content_type="image/jpeg",
            key_id="k",
            ciphertext=b"sealed",
        )
        s.add(fresh)

    async with db.transaction() as s:
        dry = await retention.run_retention(s, settings, dry_run=True)
    expected = {
        "checkin_images": 2,
        "checkin_templates": 2,
        "reference_templates": 0,  # the order is still active
        "checkin_records": 1,
        "missed_prompts": 0,
    }
    assert dry == expected
    async with db.transaction() as s:
        assert (await s.execute(select(func.count()).select_from(Image))).scalar_one() == 3  # nothing deleted
        real = await retention.run_retention(s, settings, dry_run=False)
    assert real == expected
    async with db.transaction() as s:
        images = (await s.execute(select(Image.sha256))).scalars().all()
        records = (await s.execute(select(Checkin))).scalars().all()
        hashes = (await s.execute(select(func.count()).select_from(FrameHash))).scalar_one()
        runs = (await s.execute(select(RetentionRun.dry_run).order_by(RetentionRun.started_at))).scalars().all()
        last = await retention.last_run(s)
        references = (await s.execute(select(func.count()).where(Template.kind == "REFERENCE"))).scalar_one()
    assert images == ["c" * 64]  # the recent enrolment photo stays
    assert len(records) == 1  # the younger record stays, without its photos, with its hash and decision
    assert records[0].images_purged_at is not None
    assert records[0].status == "VERIFIED"
    assert records[0].image_sha256 == ["a" * 64]
    assert hashes == 1
    assert references == 1
    assert runs == [False]  # only the real run is logged: a dry run purges nothing
    assert last is not None
    assert last.counts == expected
    assert PromptStatus.MISSED.value == "MISSED"
