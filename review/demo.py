"""Review-side sample records: a wearer with an order, an enrolled watch, and prompts ending verified, referred
(with a photo), rejected or missed. Used by the demo seeder (when the check-in seeder left a caseload empty), the
specifications and the browser test."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from checkin.keys import keys_for, photo_aad
from checkin.models import Alert, Checkin, Enrolment, Image, Prompt
from checkin.vocab import AlertKind, AlertStatus, CheckinStatus, ImageKind, PromptKind, PromptStatus
from core.settings import Settings
from fieldwork.models import Order, OrderVersion, ProtectedCharacteristics, Wearer


def sample_photo(seed: int = 0) -> bytes:
    """A small synthetic PNG (a drawn face shape, not a person)."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    picture = PILImage.new("RGB", (160, 200), (200 + seed % 40, 210, 220))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((30, 30, 130, 170), fill=(224, 172, 140), outline=(60, 40, 30), width=3)
    draw.ellipse((55, 80, 70, 92), fill=(40, 40, 40))
    draw.ellipse((90, 80, 105, 92), fill=(40, 40, 40))
    draw.arc((60, 110, 100, 140), 20, 160, fill=(90, 30, 30), width=3)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


async def add_wearer(
    session: AsyncSession,
    *,
    caseworker_id: uuid.UUID | None,
    first_name: str,
    last_name: str,
    team_id: uuid.UUID | None = None,
    date_of_birth: date | None = date(1990, 5, 17),
    sex: str | None = "MALE",
    order_type: str = "IMMIGRATION",
    characteristics: dict[str, str] | None = None,
    enrolled_by: uuid.UUID | None = None,
) -> tuple[Wearer, Order, Enrolment | None]:
    wearer = Wearer(
        caseworker_id=caseworker_id,
        team_id=team_id,
        first_name=first_name,
        last_name=last_name,
        home_office_ref=f"HO-{uuid.uuid4().hex[:8].upper()}",
        aliases=[],
        date_of_birth=date_of_birth,
        sex=sex,
        disabilities=[],
        interpreter_required=False,
        no_fixed_abode=False,
    )
    session.add(wearer)
    await session.flush()
    if characteristics is not None:
        session.add(ProtectedCharacteristics(wearer_id=wearer.id, **characteristics))
    order = Order(wearer_id=wearer.id, status="ACTIVE", order_type=order_type, current_number=1, team_id=team_id)
    session.add(order)
    await session.flush()
    session.add(OrderVersion(order_id=order.id, number=1, request_type="REQUEST", status="SUBMITTED", content={}))
    enrolment = None
    if enrolled_by is not None or caseworker_id is not None:
        enrolment = Enrolment(
            wearer_id=wearer.id,
            order_id=order.id,
            device_id=uuid.uuid4(),
            status="ACTIVE",
            enrolled_by=enrolled_by or caseworker_id,
        )
        session.add(enrolment)
    await session.flush()
    return wearer, order, enrolment


async def add_prompt(
    session: AsyncSession,
    settings: Settings,
    wearer: Wearer,
    order: Order,
    enrolment: Enrolment | None,
    *,
    outcome: str,
    at: datetime,
    reasons: list[str] | None = None,
    distance: float | None = None,
    photo: bytes | None = None,
) -> dict[str, Any]:
    """One prompt ending in ``outcome`` (VERIFIED, REFERRED, REJECTED, MISSED or PENDING) with what follows:
    a check-in, a queue alert and, for a photo, an encrypted check-in image."""
    prompt = Prompt(
        wearer_id=wearer.id,
        order_id=order.id,
        kind=PromptKind.SCHEDULED.value,
        window_key=f"W-{uuid.uuid4().hex[:12]}",
        prompt_date=at.date(),
        issue_at=at,
        expires_at=at + timedelta(seconds=settings.checkin.response_window_seconds),
        nonce=os.urandom(32).hex(),
        challenge="TURN_LEFT",
        status=PromptStatus.PENDING.value,
        created_at=at,
    )
    session.add(prompt)
    await session.flush()
    result: dict[str, Any] = {"prompt": prompt, "checkin": None, "alert": None}
    if outcome == "PENDING":
        return result
    if outcome == "MISSED":
        prompt.status = PromptStatus.MISSED.value
        prompt.missed_at = prompt.expires_at
        alert = Alert(
            prompt_id=prompt.id,
            kind=AlertKind.MISSED.value,
            reasons=["MISSED"],
            status=AlertStatus.OPEN.value,
            created_at=prompt.expires_at,
        )
        session.add(alert)
        await session.flush()
        result["alert"] = alert
        return result
    assert enrolment is not None
    prompt.status = PromptStatus.ANSWERED.value
    prompt.answered_at = at + timedelta(minutes=2)
    checkin = Checkin(
        prompt_id=prompt.id,
        wearer_id=wearer.id,
        order_id=order.id,
        enrolment_id=enrolment.id,
        device_id=enrolment.device_id,
        status=CheckinStatus(outcome).value,
        reasons=reasons or [],
        nonce=prompt.nonce,
        challenge=prompt.challenge,
        received_at=at + timedelta(minutes=2),
        decided_at=at + timedelta(minutes=2),
        device_time=at + timedelta(minutes=2),
        latitude=51.5034,
        longitude=-0.1276,
        accuracy_m=12.0,
        location={},
        device={},
        image_sha256=[],
        distance=distance,
        band={"VERIFIED": "ACCEPT", "REFERRED": "REFER"}.get(outcome, "REJECT"),
    )
    session.add(checkin)
    await session.flush()
    result["checkin"] = checkin
    if photo is not None:
        sha = hashlib.sha256(photo).hexdigest()
        image_id = uuid.uuid4()
        key_id, blob = keys_for(settings).seal_photo(photo, photo_aad(str(image_id), str(wearer.id), sha))
        session.add(
            Image(
                id=image_id,
                wearer_id=wearer.id,
                checkin_id=checkin.id,
                kind=ImageKind.CHECKIN.value,
                position=0,
                sha256=sha,
                content_type="image/png",
                key_id=key_id,
                ciphertext=blob,
            )
        )
        checkin.image_sha256 = [sha]
    if outcome in (CheckinStatus.REFERRED.value, CheckinStatus.REJECTED.value):
        alert = Alert(
            prompt_id=prompt.id,
            checkin_id=checkin.id,
            kind=AlertKind(outcome).value,
            reasons=reasons or [],
            status=AlertStatus.OPEN.value,
            created_at=checkin.received_at,
        )
        session.add(alert)
        result["alert"] = alert
    await session.flush()
    return result


async def seed_review(session: AsyncSession, settings: Settings) -> list[str]:
    """Nothing to add (the check-in seeder raises the referred and missed items); say where to review them."""
    from sqlalchemy import func, select

    from security.models import StaffUser

    caseworker = (
        await session.execute(select(StaffUser).where(StaffUser.username == "caseworker.demo"))
    ).scalar_one_or_none()
    if caseworker is None:
        return []
    open_items = (
        await session.execute(
            select(func.count())
            .select_from(Alert)
            .join(Prompt, Prompt.id == Alert.prompt_id)
            .join(Wearer, Wearer.id == Prompt.wearer_id)
            .where(Wearer.caseworker_id == caseworker.id, Alert.status == AlertStatus.OPEN.value)
        )
    ).scalar_one()
    url = f"http://{settings.http.host}:{settings.http.port}/review"
    return [f"review: {open_items} open items for caseworker.demo; sign in at {url} (password, then the TOTP code)"]
