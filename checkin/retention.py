"""Retention purge: each kind of check-in data is deleted when its period ends, set-based, in one transaction.

- check-in and enrolment photos after ``EMON_RETENTION_CHECKIN_IMAGE_DAYS`` (with the check-in probe templates,
  which are derived from the photos); the check-in record keeps hashes, measures and the decision;
- reference templates when the order ended more than ``EMON_RETENTION_TEMPLATE_GRACE_DAYS`` ago (or the enrolment
  ended that long ago);
- check-in records (with their frame hashes, alerts and prompts) after ``EMON_RETENTION_RECORD_DAYS``; missed
  prompts and their alerts likewise.

Every real run is recorded in ``retention_runs`` (the compliance module reads its latest ``finished_at``); dry runs
are only audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from checkin.models import Alert, Checkin, Enrolment, FrameHash, Image, Prompt, RetentionRun, Template
from checkin.vocab import EnrolmentStatus, PromptStatus, TemplateKind
from core.clock import utcnow
from core.settings import Settings
from fieldwork.models import Order
from security.actor import SYSTEM
from security.audit import record

KINDS = ("checkin_images", "checkin_templates", "reference_templates", "checkin_records", "missed_prompts")


def _conditions(settings: Settings, now: datetime) -> dict[str, tuple[type, Any]]:
    r = settings.retention
    image_cutoff = now - timedelta(days=r.checkin_image_days)
    template_cutoff = now - timedelta(days=r.template_grace_days)
    record_cutoff = now - timedelta(days=r.record_days)
    order_over = exists().where(
        Order.id == Enrolment.order_id, Order.ended_at.is_not(None), Order.ended_at <= template_cutoff
    )
    enrolment_over = or_(
        order_over, and_(Enrolment.status == EnrolmentStatus.ENDED.value, Enrolment.ended_at <= template_cutoff)
    )
    return {
        "checkin_images": (Image, Image.created_at <= image_cutoff),
        "checkin_templates": (
            Template,
            and_(Template.kind == TemplateKind.CHECKIN.value, Template.created_at <= image_cutoff),
        ),
        "reference_templates": (
            Template,
            and_(
                Template.kind == TemplateKind.REFERENCE.value,
                Template.enrolment_id.in_(select(Enrolment.id).where(enrolment_over)),
            ),
        ),
        "checkin_records": (Checkin, Checkin.received_at <= record_cutoff),
        "missed_prompts": (
            Prompt,
            and_(
                Prompt.status == PromptStatus.MISSED.value,
                Prompt.expires_at <= record_cutoff,
                ~exists().where(Checkin.prompt_id == Prompt.id),
            ),
        ),
    }


async def run_retention(
    session: AsyncSession, settings: Settings, *, dry_run: bool, now: datetime | None = None
) -> dict[str, int]:
    """Count (dry run) or delete what has outlived its period; returns the count per kind."""
    started = utcnow()
    now = now or started
    conditions = _conditions(settings, now)
    counts: dict[str, int] = {}
    for kind in KINDS:
        model, condition = conditions[kind]
        counts[kind] = int(
            (await session.execute(select(func.count()).select_from(model).where(condition))).scalar_one()
        )
    if not dry_run:
        # photos first, noting on each record that its photos are gone
        purged = select(Image.checkin_id).where(conditions["checkin_images"][1], Image.checkin_id.is_not(None))
        await session.execute(
            update(Checkin)
            .where(Checkin.id.in_(purged), Checkin.images_purged_at.is_(None))
            .values(images_purged_at=now)
        )
        await session.execute(delete(Image).where(conditions["checkin_images"][1]))
        await session.execute(delete(Template).where(conditions["checkin_templates"][1]))
        await session.execute(delete(Template).where(conditions["reference_templates"][1]))
        old = select(Checkin.id).where(conditions["checkin_records"][1])
        missed = select(Prompt.id).where(conditions["missed_prompts"][1])
        await session.execute(delete(Image).where(Image.checkin_id.in_(old)))
        await session.execute(delete(Template).where(Template.checkin_id.in_(old)))
        await session.execute(delete(FrameHash).where(FrameHash.checkin_id.in_(old)))
        await session.execute(delete(Alert).where(or_(Alert.checkin_id.in_(old), Alert.prompt_id.in_(missed))))
        await session.execute(delete(Checkin).where(conditions["checkin_records"][1]))
        record_cutoff = now - timedelta(days=settings.retention.record_days)
        await session.execute(
            delete(Prompt).where(
                Prompt.expires_at <= record_cutoff,
                ~exists().where(Checkin.prompt_id == Prompt.id),
                ~exists().where(Alert.prompt_id == Prompt.id),
            )
        )
    if not dry_run:  # the log says when data was last purged (the compliance evidence); a dry run purges nothing
        session.add(RetentionRun(started_at=started, finished_at=utcnow(), dry_run=False, counts=counts))
    await record(
        session,
        SYSTEM,
        "retention.dry_run" if dry_run else "retention.run",
        "retention",
        None,
        details={"counts": counts, "as_of": now.isoformat()},
        key=settings.security.audit_hmac_key.encode(),
    )
    return counts


async def last_run(session: AsyncSession) -> RetentionRun | None:
    """The latest real (not dry) retention run, for the compliance evidence."""
    return (
        await session.execute(
            select(RetentionRun)
            .where(RetentionRun.dry_run.is_(False))
            .order_by(RetentionRun.started_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
