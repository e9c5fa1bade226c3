"""Demo check-ins for ``emon demo seed``: synthetic decision records (hashes and decisions, no face images) for the
field work seeder's smartwatch wearer, so the caseworker queue is not empty. Idempotent; refuses production."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from checkin import orders
from checkin.models import Alert, Checkin, Enrolment, FrameHash, Prompt
from checkin.pool import policy_from
from checkin.service import challenge_for, new_nonce
from checkin.vocab import AlertKind, AlertStatus, CheckinStatus, EnrolmentStatus, PromptKind, PromptStatus
from core.clock import utcnow
from core.settings import Settings
from fieldwork.models import Order, OrderVersion, Wearer
from security.models import StaffUser

DEMO_NAMESPACE = uuid.UUID("5f0c2a52-9a43-4f0e-9a55-3c1e2d7b8a10")

# (status, reasons, distance) of each demo check-in, oldest first; None = a missed prompt
_PLAN: list[tuple[str, list[str], float | None] | None] = [
    ("VERIFIED", [], 0.38),
    ("VERIFIED", [], 0.41),
    None,
    ("REFERRED", ["DISTANCE_IN_REFER_BAND"], 0.56),
    ("VERIFIED", [], 0.35),
    ("REFERRED", ["LOCATION_EXCLUSION_ZONE"], 0.40),
    None,
    ("REJECTED", ["NO_MATCH"], 0.84),
    ("REFERRED", ["SUSPECTED_REPLAY"], 0.05),
    ("VERIFIED", [], 0.44),
    None,
]


async def seed_checkins(session: AsyncSession, settings: Settings) -> list[str]:
    if settings.is_production:
        raise RuntimeError("demo data is never seeded in production")
    # the field work seeder's smartwatch order may still await its fitting visit (SUBMITTED): good enough for a demo
    rows = (
        await session.execute(
            select(Wearer, Order, OrderVersion.content)
            .join(Order, Order.wearer_id == Wearer.id)
            .join(OrderVersion, OrderVersion.order_id == Order.id)
            .where(Order.status.in_(["ACTIVE", "SUBMITTED"]), OrderVersion.status == "SUBMITTED")
            .order_by(Order.status, Wearer.created_at)
        )
    ).all()
    target = next(((w, o) for w, o, content in rows if orders.is_non_fitted(content or {})), None)
    if target is None:
        return ["check-ins: no active smartwatch order to attach demo check-ins to (seed field work first)"]
    wearer, order = target
    device_id = uuid.uuid5(DEMO_NAMESPACE, f"watch:{wearer.id}")
    existing = (await session.execute(select(Enrolment.id).where(Enrolment.device_id == device_id))).first()
    if existing is not None:
        return [f"check-ins: demo watch {device_id} already enrolled for wearer {wearer.id}"]
    staff_id = wearer.caseworker_id or (await session.execute(select(StaffUser.id).limit(1))).scalar_one_or_none()
    if staff_id is None:
        return ["check-ins: no staff account to record the enrolment against (seed accounts first)"]
    now = utcnow()
    enrolment = Enrolment(
        wearer_id=wearer.id,
        order_id=order.id,
        device_id=device_id,
        status=EnrolmentStatus.ACTIVE.value,
        enrolled_by=staff_id,
    )
    session.add(enrolment)
    await session.flush()
    policy = policy_from(settings)
    counts = {"VERIFIED": 0, "REFERRED": 0, "REJECTED": 0, "MISSED": 0}
    for index, plan in enumerate(_PLAN):
        issue = now - timedelta(hours=5 * (len(_PLAN) - index))
        nonce = new_nonce()
        prompt = Prompt(
            wearer_id=wearer.id,
            order_id=order.id,
            kind=PromptKind.SCHEDULED.value,
            window_key=f"DEMO-{index}",
            prompt_date=issue.date(),
            issue_at=issue,
            expires_at=issue + timedelta(seconds=settings.checkin.response_window_seconds),
            nonce=nonce,
            challenge=challenge_for(nonce, settings, policy).kind,
            status=PromptStatus.MISSED.value if plan is None else PromptStatus.ANSWERED.value,
        )
        session.add(prompt)
        await session.flush()
        if plan is None:
            prompt.missed_at = prompt.expires_at
            session.add(
                Alert(
                    prompt_id=prompt.id,
                    kind=AlertKind.MISSED.value,
                    reasons=["MISSED"],
                    status=AlertStatus.OPEN.value,
                    created_at=prompt.expires_at,
                )
            )
            counts["MISSED"] += 1
            continue
        status, reasons, distance = plan
        assert distance is not None  # only missed prompts have no distance
        sha = hashlib.sha256(f"synthetic demo frame {wearer.id} {index}".encode()).hexdigest()
        received = issue + timedelta(minutes=2)
        prompt.answered_at = received
        checkin = Checkin(
            prompt_id=prompt.id,
            wearer_id=wearer.id,
            order_id=order.id,
            enrolment_id=enrolment.id,
            device_id=device_id,
            status=status,
            reasons=reasons,
            nonce=nonce,
            challenge=prompt.challenge,
            received_at=received,
            decided_at=received,
            device_time=received,
            latitude=51.5072,
            longitude=-0.1276,
            accuracy_m=15.0,
            location={"synthetic": True},
            device={"state": "COMPLIANT", "synthetic": True},
            image_sha256=[sha],
            verification={"synthetic": True},
            distance=distance,
            band="ACCEPT"
            if distance <= policy.accept_distance
            else "REFER"
            if distance <= policy.refer_distance
            else "REJECT",
            policy_version=policy.version,
            model_id="synthetic-demo",
            key_id=None,
        )
        session.add(checkin)
        await session.flush()
        session.add(FrameHash(checkin_id=checkin.id, wearer_id=wearer.id, sha256=sha, position=0))
        if status != CheckinStatus.VERIFIED.value:
            session.add(
                Alert(
                    prompt_id=prompt.id,
                    checkin_id=checkin.id,
                    kind=status,
                    reasons=reasons,
                    status=AlertStatus.OPEN.value,
                    created_at=received,
                )
            )
        counts[status] += 1
    summary = ", ".join(f"{n} {k.lower()}" for k, n in counts.items())
    return [f"check-ins: demo watch {device_id} enrolled for wearer {wearer.id}; {summary} (synthetic, no images)"]
