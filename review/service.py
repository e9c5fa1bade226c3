"""The review rules: the queue, claims, decisions and revisions, image viewing, compliance and the caseload.

Scoping: every read starts from :func:`checkin.service.wearers_visible_to` (a caseworker sees their caseload, a
supervisor every wearer) through :func:`_visible`; a record outside it answers 404. Images are stricter: only the
wearer's own caseworker may open them, and every opening is audited. Services never commit.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from checkin import service as checkins
from checkin.models import Alert, Checkin, Image, Prompt
from checkin.service import Ctx, wearers_visible_to
from checkin.vocab import AlertStatus, CheckinStatus, ImageKind, PromptStatus
from core.clock import utcnow
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from fieldwork.models import Wearer
from review.models import ReviewDecision, ReviewItem
from review.schemas import (
    Caseload,
    CaseloadRow,
    CheckinFacts,
    ClaimOut,
    Compliance,
    Counts,
    DecisionOut,
    ItemDetail,
    PromptSent,
    QueueItem,
    QueuePage,
    TimelineDay,
)
from review.vocab import CLAIM_SECONDS, REASON_MAX, Outcome
from security.actor import Role
from security.models import StaffUser

REVIEW_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR})
WINDOWS = (7, 30, 90)
OPEN_PROMPT = (PromptStatus.PENDING.value, PromptStatus.SUBMITTED.value)
REFERRED = (CheckinStatus.REFERRED.value, CheckinStatus.REJECTED.value)
Claimer = aliased(StaffUser)


def wearer_name(wearer: Wearer) -> str:
    name = " ".join(p for p in (wearer.first_name, wearer.last_name) if p)
    return name or (wearer.home_office_ref or wearer.nomis_id or str(wearer.id)[:8])


def _visible(ctx: Ctx) -> Any:
    if ctx.actor.role not in REVIEW_ROLES:
        raise PermissionDenied("review is for caseworkers and supervisors")
    return wearers_visible_to(ctx.actor)


async def _wearer(ctx: Ctx, wearer_id: uuid.UUID) -> Wearer:
    row = (
        await ctx.session.execute(select(Wearer).where(Wearer.id == wearer_id, Wearer.id.in_(_visible(ctx))))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such wearer")
    return row


# ---- the queue -------------------------------------------------------------------------------------------------


def _check_reason_code(reason: str) -> str:
    if not reason or len(reason) > 64 or not all(c.isupper() or c.isdigit() or c == "_" for c in reason):
        raise ValidationFailed("reason must be a reason code", [{"field": "reason", "message": "e.g. NO_FACE"}])
    return reason


async def queue(
    ctx: Ctx,
    *,
    wearer_id: uuid.UUID | None = None,
    reason: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> QueuePage:
    """Open items of the caller's caseload, oldest first."""
    limit = max(1, min(limit, ctx.settings.http.max_page_size))
    offset = max(0, offset)
    conditions: list[Any] = [Alert.status == AlertStatus.OPEN.value, Prompt.wearer_id.in_(_visible(ctx))]
    if wearer_id is not None:
        conditions.append(Prompt.wearer_id == wearer_id)
    if kind:
        conditions.append(Alert.kind == kind.upper())
    if reason:
        # reasons are a JSON list of codes; a code is [A-Z0-9_] only, so it cannot smuggle a LIKE wildcard
        conditions.append(cast(Alert.reasons, String).like(f'%"{_check_reason_code(reason)}"%'))
    if since is not None:
        conditions.append(Alert.created_at >= since)
    if until is not None:
        conditions.append(Alert.created_at < until)
    total = (
        await ctx.session.execute(
            select(func.count()).select_from(Alert).join(Prompt, Prompt.id == Alert.prompt_id).where(*conditions)
        )
    ).scalar_one()
    statement = (
        select(Alert, Prompt, Wearer, ReviewItem, Claimer.display_name)
        .join(Prompt, Prompt.id == Alert.prompt_id)
        .join(Wearer, Wearer.id == Prompt.wearer_id)
        .outerjoin(ReviewItem, ReviewItem.alert_id == Alert.prompt_id)
        .outerjoin(Claimer, Claimer.id == ReviewItem.claimed_by)
        .where(*conditions)
        .order_by(Alert.created_at, Alert.prompt_id)
        .limit(limit)
        .offset(offset)
    )
    now = utcnow()
    items = []
    for alert, prompt, wearer, item, claimer in (await ctx.session.execute(statement)).all():
        live = item is not None and item.claimed_by is not None and item.claimed_until and item.claimed_until > now
        items.append(
            QueueItem(
                id=alert.prompt_id,
                kind=alert.kind,
                wearer_id=wearer.id,
                wearer_name=wearer_name(wearer),
                checkin_id=alert.checkin_id,
                reasons=list(alert.reasons or []),
                prompt_issued_at=prompt.issue_at,
                raised_at=alert.created_at,
                claimed_by=claimer if live else None,
                claimed_until=item.claimed_until if live and item else None,
                version=item.version if item else 0,
            )
        )
    await ctx.audit("review.queue.read", "caseload", ctx.actor.id, items=len(items), offset=offset)
    return QueuePage(items=items, total=int(total), limit=limit, offset=offset)


async def _alert(ctx: Ctx, alert_id: uuid.UUID) -> tuple[Alert, Prompt, Wearer]:
    row = (
        await ctx.session.execute(
            select(Alert, Prompt, Wearer)
            .join(Prompt, Prompt.id == Alert.prompt_id)
            .join(Wearer, Wearer.id == Prompt.wearer_id)
            .where(Alert.prompt_id == alert_id, Prompt.wearer_id.in_(_visible(ctx)))
        )
    ).first()
    if row is None:
        raise NotFound("no such review item")
    return row[0], row[1], row[2]


async def _item_state(ctx: Ctx, alert: Alert, wearer_id: uuid.UUID) -> ReviewItem:
    """The item's state row, created on first use; a new row reports version 0 until written (what readers saw)."""
    # PostgreSQL: lock the row so a concurrent claim or decision waits and then sees the new version
    locking = ctx.session.get_bind().dialect.name != "sqlite"
    item = await ctx.session.get(ReviewItem, alert.prompt_id, with_for_update=locking)
    if item is not None:
        item.seen_version = item.version  # type: ignore[attr-defined]
    else:
        item = ReviewItem(alert_id=alert.prompt_id, wearer_id=wearer_id, revision=0)
        ctx.session.add(item)
        try:
            await ctx.session.flush()
        except IntegrityError:
            raise Conflict("someone else is working on this item; reload it", code="CONCURRENT_UPDATE") from None
        item.seen_version = 0  # type: ignore[attr-defined]
    return item


async def _flush(ctx: Ctx) -> None:
    try:
        await ctx.session.flush()
    except (StaleDataError, IntegrityError):
        raise Conflict("someone else changed this item; reload it", code="CONCURRENT_UPDATE") from None


async def _name(ctx: Ctx, staff_id: uuid.UUID | None) -> str | None:
    if staff_id is None:
        return None
    return (await ctx.session.execute(select(StaffUser.display_name).where(StaffUser.id == staff_id))).scalar()


async def _guard_claim(ctx: Ctx, item: ReviewItem, version: int | None) -> None:
    now = utcnow()
    if item.claimed_by not in (None, ctx.actor.id) and item.claimed_until and item.claimed_until > now:
        holder = await _name(ctx, item.claimed_by)
        raise Conflict(
            f"{holder} is reviewing this item until {item.claimed_until:%H:%M} UTC",
            code="CLAIMED",
            held_by=holder,
            held_by_id=str(item.claimed_by),
            claimed_until=item.claimed_until.isoformat(),
        )
    seen = getattr(item, "seen_version", item.version)
    if version is not None and version != seen:
        raise Conflict("this item changed since you loaded it; reload it", code="STALE_VERSION", current_version=seen)


async def claim(ctx: Ctx, alert_id: uuid.UUID, version: int | None = None) -> ClaimOut:
    """Hold an open item for ``CLAIM_SECONDS`` so that two caseworkers do not decide it twice."""
    alert, _prompt, wearer = await _alert(ctx, alert_id)
    if alert.status != AlertStatus.OPEN.value:
        raise Conflict("this item has been decided", code="DECIDED")
    item = await _item_state(ctx, alert, wearer.id)
    await _guard_claim(ctx, item, version)
    item.claimed_by = ctx.actor.id
    item.claimed_until = utcnow() + timedelta(seconds=CLAIM_SECONDS)
    await _flush(ctx)
    await ctx.audit("review.item.claimed", "review_item", alert.prompt_id, wearer_id=str(wearer.id))
    return ClaimOut(
        id=alert.prompt_id,
        claimed_by=await _name(ctx, ctx.actor.id) or "",
        claimed_until=item.claimed_until,
        version=item.version,
    )


async def release(ctx: Ctx, alert_id: uuid.UUID) -> None:
    alert, _prompt, _wearer = await _alert(ctx, alert_id)
    item = await ctx.session.get(ReviewItem, alert.prompt_id)
    if item is not None and item.claimed_by == ctx.actor.id:
        item.claimed_by = None
        item.claimed_until = None
        await _flush(ctx)
        await ctx.audit("review.item.released", "review_item", alert.prompt_id)


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("a decision needs a reason", [{"field": "reason", "message": "Enter a reason"}])
    if len(text) > REASON_MAX:
        message = f"Reason must be {REASON_MAX} characters or fewer"
        raise ValidationFailed("the reason is too long", [{"field": "reason", "message": message}])
    return text


def _outcome(value: str | Outcome) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        message = "Choose " + ", ".join(o.value for o in Outcome)
        raise ValidationFailed("unknown outcome", [{"field": "outcome", "message": message}]) from None


async def _decision_out(ctx: Ctx, row: ReviewDecision) -> DecisionOut:
    return DecisionOut(
        id=row.id,
        item_id=row.alert_id,
        revision=row.revision,
        outcome=row.outcome,
        reason=row.reason,
        decided_by=await _name(ctx, row.decided_by) or "",
        decided_by_role=row.decided_by_role,
        decided_at=row.decided_at,
        supersedes_id=row.supersedes_id,
    )


async def _write_decision(
    ctx: Ctx, alert: Alert, item: ReviewItem, outcome: Outcome, reason: str, supersedes: uuid.UUID | None
) -> ReviewDecision:
    """Append a decision row and move the item's state to it."""
    now = utcnow()
    row = ReviewDecision(
        alert_id=alert.prompt_id,
        checkin_id=alert.checkin_id,
        wearer_id=item.wearer_id,
        revision=item.revision + 1,
        outcome=outcome.value,
        reason=reason,
        decided_by=ctx.actor.id,
        decided_by_role=ctx.actor.role.value,
        supersedes_id=supersedes,
        decided_at=now,
    )
    ctx.session.add(row)
    item.revision += 1
    item.outcome = outcome.value
    item.decided_by = ctx.actor.id
    item.decided_at = now
    item.claimed_by = None
    item.claimed_until = None
    alert.status = AlertStatus.CLOSED.value
    await _flush(ctx)
    return row


async def decide(
    ctx: Ctx, alert_id: uuid.UUID, outcome: str | Outcome, reason: str, version: int | None = None
) -> DecisionOut:
    """The first decision on an item; it leaves the queue. A later change is a supervisor's revision."""
    chosen, text = _outcome(outcome), _clean_reason(reason)
    alert, _prompt, wearer = await _alert(ctx, alert_id)
    item = await _item_state(ctx, alert, wearer.id)
    if item.outcome is not None or alert.status != AlertStatus.OPEN.value:
        raise Conflict("this item has been decided; a supervisor may revise the decision", code="DECIDED")
    await _guard_claim(ctx, item, version)
    row = await _write_decision(ctx, alert, item, chosen, text, None)
    await ctx.audit(
        "review.decision",
        "review_item",
        alert.prompt_id,
        outcome=chosen.value,
        wearer_id=str(wearer.id),
        checkin_id=str(alert.checkin_id) if alert.checkin_id else None,
        revision=row.revision,
    )
    return await _decision_out(ctx, row)


async def revise(
    ctx: Ctx, alert_id: uuid.UUID, outcome: str | Outcome, reason: str, version: int | None = None
) -> DecisionOut:
    """A supervisor's change of a decision, with its own reason; the earlier decision stays in the history."""
    if ctx.actor.role is not Role.SUPERVISOR:
        raise PermissionDenied("only a supervisor may revise a decision")
    chosen, text = _outcome(outcome), _clean_reason(reason)
    alert, _prompt, wearer = await _alert(ctx, alert_id)
    item = await _item_state(ctx, alert, wearer.id)
    if item.outcome is None:
        raise Conflict("this item has not been decided yet", code="NOT_DECIDED")
    if version is not None and version != getattr(item, "seen_version", item.version):
        raise Conflict("this item changed since you loaded it; reload it", code="STALE_VERSION")
    previous = (
        await ctx.session.execute(
            select(ReviewDecision.id)
            .where(ReviewDecision.alert_id == alert.prompt_id)
            .order_by(ReviewDecision.revision.desc())
            .limit(1)
        )
    ).scalar_one()
    row = await _write_decision(ctx, alert, item, chosen, text, previous)
    await ctx.audit(
        "review.decision.revised",
        "review_item",
        alert.prompt_id,
        outcome=chosen.value,
        supersedes=str(previous),
        wearer_id=str(wearer.id),
        revision=row.revision,
    )
    return await _decision_out(ctx, row)


async def history(ctx: Ctx, alert_id: uuid.UUID) -> list[DecisionOut]:
    await _alert(ctx, alert_id)
    rows = (
        await ctx.session.execute(
            select(ReviewDecision).where(ReviewDecision.alert_id == alert_id).order_by(ReviewDecision.revision)
        )
    ).scalars()
    return [await _decision_out(ctx, row) for row in rows]


async def item_detail(ctx: Ctx, alert_id: uuid.UUID) -> ItemDetail:
    """Everything a reviewer needs to decide, without the images (those are a separate, audited act)."""
    alert, prompt, wearer = await _alert(ctx, alert_id)
    item = await ctx.session.get(ReviewItem, alert.prompt_id)
    facts = None
    if alert.checkin_id is not None:
        checkin = await ctx.session.get(Checkin, alert.checkin_id)
        if checkin is not None:
            images = (
                await ctx.session.execute(select(func.count()).select_from(Image).where(Image.checkin_id == checkin.id))
            ).scalar_one()
            facts = CheckinFacts(
                id=checkin.id,
                status=checkin.status,
                received_at=checkin.received_at,
                device_time=checkin.device_time,
                distance=checkin.distance,
                band=checkin.band,
                reasons=list(checkin.reasons or []),
                latitude=checkin.latitude,
                longitude=checkin.longitude,
                accuracy_m=checkin.accuracy_m,
                images=int(images),
                images_purged=checkin.images_purged_at is not None,
            )
    now = utcnow()
    live = item is not None and item.claimed_by is not None and item.claimed_until and item.claimed_until > now
    await ctx.audit("review.item.read", "review_item", alert.prompt_id, wearer_id=str(wearer.id))
    return ItemDetail(
        id=alert.prompt_id,
        kind=alert.kind,
        status=alert.status,
        wearer_id=wearer.id,
        wearer_name=wearer_name(wearer),
        reasons=list(alert.reasons or []),
        prompt_kind=prompt.kind,
        prompt_issued_at=prompt.issue_at,
        prompt_expires_at=prompt.expires_at,
        raised_at=alert.created_at,
        checkin=facts,
        claimed_by=await _name(ctx, item.claimed_by) if live and item else None,
        claimed_until=item.claimed_until if live and item else None,
        outcome=item.outcome if item else None,
        version=item.version if item else 0,
        history=await history(ctx, alert.prompt_id),
    )


# ---- images ------------------------------------------------------------------------------------------------------


async def checkin_image(ctx: Ctx, checkin_id: uuid.UUID, position: int) -> tuple[bytes, str]:
    """One check-in photo, decrypted, for the wearer's own caseworker only; the viewing is audited."""
    if ctx.actor.role is not Role.CASEWORKER:
        raise NotFound("no such image")
    row = (
        await ctx.session.execute(
            select(Image)
            .join(Wearer, Wearer.id == Image.wearer_id)
            .where(
                Image.checkin_id == checkin_id,
                Image.kind == ImageKind.CHECKIN.value,
                Image.position == position,
                Wearer.caseworker_id == ctx.actor.id,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no such image")
    data = checkins.open_photo(ctx.settings, row)
    await ctx.audit(
        "review.checkin.image.viewed",
        "checkin",
        checkin_id,
        wearer_id=str(row.wearer_id),
        position=position,
        sha256=row.sha256,
    )
    return data, row.content_type


# ---- compliance --------------------------------------------------------------------------------------------------


def _counts(days: int, rows: Sequence[tuple[Any, ...]], now: datetime) -> Counts:
    start = now - timedelta(days=days)
    c: Counter[str] = Counter()
    for issue_at, prompt_status, checkin_status, outcome in rows:
        if issue_at < start or issue_at > now:
            continue
        c["issued"] += 1
        if checkin_status == CheckinStatus.VERIFIED.value:
            c["verified"] += 1
        elif checkin_status in REFERRED:
            c["referred"] += 1
        elif prompt_status == PromptStatus.MISSED.value:
            c["missed"] += 1
        elif prompt_status in OPEN_PROMPT or checkin_status == CheckinStatus.PROCESSING.value:
            c["pending"] += 1
        if outcome:
            c["decided"] += 1
            c[outcome] += 1
    base = c["issued"] - c["pending"] - c[Outcome.EXCUSED.value]
    compliant = c["verified"] + c[Outcome.ACCEPTED.value]
    return Counts(
        days=days,
        issued=c["issued"],
        pending=c["pending"],
        verified=c["verified"],
        referred=c["referred"],
        missed=c["missed"],
        decided=c["decided"],
        accepted=c[Outcome.ACCEPTED.value],
        confirmed_non_compliant=c[Outcome.CONFIRMED_NON_COMPLIANT.value],
        excused=c[Outcome.EXCUSED.value],
        undecided=c["referred"] + c["missed"] - c["decided"],
        compliance_rate=round(compliant / base, 3) if base > 0 else None,
    )


def _prompt_outcomes(since: datetime) -> Any:
    return (
        select(Prompt.wearer_id, Prompt.issue_at, Prompt.status, Checkin.status, ReviewItem.outcome)
        .outerjoin(Checkin, Checkin.prompt_id == Prompt.id)
        .outerjoin(Alert, Alert.prompt_id == Prompt.id)
        .outerjoin(ReviewItem, ReviewItem.alert_id == Alert.prompt_id)
        .where(Prompt.issue_at >= since)
    )


async def compliance(ctx: Ctx, wearer_id: uuid.UUID, *, timeline_days: int = 30) -> Compliance:
    wearer = await _wearer(ctx, wearer_id)
    now = utcnow()
    rows = [
        tuple(r[1:])
        for r in (
            await ctx.session.execute(
                _prompt_outcomes(now - timedelta(days=max(WINDOWS))).where(Prompt.wearer_id == wearer.id)
            )
        ).all()
    ]
    today = now.date()
    days = [today - timedelta(days=n) for n in range(timeline_days - 1, -1, -1)]
    per_day: dict[date, Counter[str]] = {d: Counter() for d in days}
    for issue_at, prompt_status, checkin_status, _outcome_value in rows:
        bucket = per_day.get(issue_at.date())
        if bucket is None:
            continue
        if checkin_status == CheckinStatus.VERIFIED.value:
            bucket["verified"] += 1
        elif checkin_status in REFERRED:
            bucket["referred"] += 1
        elif prompt_status == PromptStatus.MISSED.value:
            bucket["missed"] += 1
    await ctx.audit("review.compliance.read", "wearer", wearer.id)
    return Compliance(
        wearer_id=wearer.id,
        wearer_name=wearer_name(wearer),
        windows=[_counts(d, rows, now) for d in WINDOWS],
        timeline=[
            TimelineDay(
                day=d, verified=per_day[d]["verified"], referred=per_day[d]["referred"], missed=per_day[d]["missed"]
            )
            for d in days
        ],
    )


async def caseload(ctx: Ctx, *, limit: int = 500) -> Caseload:
    """The caller's wearers, the most at risk of non-compliance first: misses in 7 days, then referrals, then
    open items."""
    now = utcnow()
    wearers = (
        (await ctx.session.execute(select(Wearer).where(Wearer.id.in_(_visible(ctx))).limit(limit))).scalars().all()
    )
    ids = [w.id for w in wearers]
    per: dict[uuid.UUID, list[tuple[Any, ...]]] = {i: [] for i in ids}
    if ids:
        statement = _prompt_outcomes(now - timedelta(days=30)).where(Prompt.wearer_id.in_(ids))
        for wearer_id, *rest in (await ctx.session.execute(statement)).all():
            per[wearer_id].append(tuple(rest))
        open_counts = dict(
            (
                await ctx.session.execute(
                    select(Prompt.wearer_id, func.count())
                    .select_from(Alert)
                    .join(Prompt, Prompt.id == Alert.prompt_id)
                    .where(Prompt.wearer_id.in_(ids), Alert.status == AlertStatus.OPEN.value)
                    .group_by(Prompt.wearer_id)
                )
            ).all()
        )
    else:
        open_counts = {}
    result = []
    for wearer in wearers:
        week, month = _counts(7, per[wearer.id], now), _counts(30, per[wearer.id], now)
        result.append(
            CaseloadRow(
                wearer_id=wearer.id,
                wearer_name=wearer_name(wearer),
                missed_7d=week.missed,
                referred_7d=week.referred,
                open_items=int(open_counts.get(wearer.id, 0)),
                compliance_rate_30d=month.compliance_rate,
            )
        )
    result.sort(key=lambda r: (-r.missed_7d, -r.referred_7d, -r.open_items, r.wearer_name))
    await ctx.audit("review.caseload.read", "caseload", ctx.actor.id, wearers=len(result))
    return Caseload(wearers=result)


async def send_prompt(ctx: Ctx, wearer_id: uuid.UUID) -> PromptSent:
    """Ask the wearer's watch for a check-in now (the check-in service issues and audits the prompt)."""
    wearer = await _wearer(ctx, wearer_id)
    prompt = await checkins.request_prompt(ctx, wearer.id)
    return PromptSent(id=prompt.id, wearer_id=wearer.id, issue_at=prompt.issue_at, expires_at=prompt.expires_at)


async def export_wearer(ctx: Ctx, wearer_id: uuid.UUID) -> uuid.UUID:
    """Check scope and audit the export of a wearer's record before it streams."""
    wearer = await _wearer(ctx, wearer_id)
    await ctx.audit("review.export.wearer", "wearer", wearer.id)
    return wearer.id
