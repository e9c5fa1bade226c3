"""Check-in rules: enrolment, prompts, submission and decision, the wearer's history, and the caseworker reads.

Services take a :class:`Ctx` (session, actor, settings), never commit, and audit every write and every read of
personal data in the caller's transaction. Every staff read of a wearer's data goes through
:func:`wearers_visible_to`: a caseworker sees their caseload, a field officer the wearers of their team or of
jobs allocated to them, a supervisor or administrator everyone; anything else is "not found".

Refusals (and how they are answered) when a watch submits a check-in:

- (in the route) no valid signed device request: 401; over the watch's check-in rate: 429;
- unknown prompt, or a prompt of another wearer: 404 (never says whether it exists);
- the watch is not the device enrolled for its wearer: 403 ``DEVICE_NOT_ENROLLED``;
- the nonce does not match the prompt: 409 ``NONCE_MISMATCH``; the prompt already has a check-in (nonce reuse):
  409 ``NONCE_USED``; past its response window or swept as missed: 409 ``PROMPT_EXPIRED``; not yet open: 409
  ``PROMPT_NOT_OPEN``;
- an image that is not a JPEG or PNG: 415; too large: 413; truncated or without a readable header: 422
  ``IMAGE_UNREADABLE`` (the prompt stays open, so the watch can try again within the window);
- a device posture that the published device policy does not find COMPLIANT (NO_DATA included): the check-in is
  recorded as REJECTED with ``DEVICE_NON_COMPLIANT`` (or ``DEVICE_NO_POSTURE_DATA``) and the policy's reasons, and
  no face is compared; the caseworker gets an alert.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
import numpy as np
from PIL import Image as PILImage
from sqlalchemy import Select, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from biometrics.decode import sniff_format
from biometrics.liveness import derive_challenge
from biometrics.pipeline import analyse_enrolment, provenance, verify_checkin
from biometrics.policy import BiometricPolicy
from biometrics.schemas import CAPTURE_REASONS, Challenge, Verification, to_loggable
from biometrics.templates import SealedTemplate, open_sealed, seal
from checkin import orders
from checkin.keys import CheckinKeys, keys_for, photo_aad
from checkin.models import Alert, Checkin, Enrolment, FrameHash, Image, Prompt, Template
from checkin.pool import PoolFull, VerificationPool, policy_from
from checkin.schemas import CheckinIn, CheckinOut, EnrolmentOut, HistoryItem, PromptOut
from checkin.vocab import (
    POOR_ACCURACY_M,
    AlertKind,
    AlertStatus,
    CheckinReason,
    CheckinStatus,
    EnrolmentStatus,
    ImageKind,
    PromptKind,
    PromptStatus,
    TemplateKind,
)
from compliance.devices import DevicePolicy, DeviceState, evaluate_device, load_policy, posture_from_dict
from core.clock import utcnow
from core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PolicyViolation,
    ServiceUnavailable,
    UnsupportedMedia,
    ValidationFailed,
)
from core.settings import Settings
from fieldwork import service as fieldwork_service
from fieldwork.models import Wearer
from security.actor import Actor, Role
from security.audit import record
from security.devices import bind_watch_to_wearer, record_posture
from security.models import Device, DeviceKind, DeviceStatus
from security.schemas import PostureReport

#: How many of a wearer's latest check-in templates the replay check compares against.
REPLAY_HISTORY = 500


@dataclass
class Ctx:
    session: AsyncSession
    actor: Actor
    settings: Settings
    request_id: str | None = None

    async def audit(self, action: str, resource_type: str, resource_id: Any = None, **details: Any) -> None:
        await record(
            self.session,
            self.actor,
            action,
            resource_type,
            resource_id,
            details=details,
            key=self.settings.security.audit_hmac_key.encode(),
            request_id=self.request_id,
        )


@lru_cache(maxsize=1)
def device_policy() -> DevicePolicy:
    """The published device policy shipped by the compliance package: the one the device gate enforces."""
    return load_policy()


def challenge_key(settings: Settings) -> bytes:
    """A server secret for deriving challenges, so a nonce alone does not reveal its challenge."""
    return hmac.new(settings.security.secret_key.encode(), b"emon.checkin.challenge.v1", hashlib.sha256).digest()


def challenge_for(nonce_hex: str, settings: Settings, policy: BiometricPolicy) -> Challenge:
    return derive_challenge(bytes.fromhex(nonce_hex), policy, key=challenge_key(settings))


def new_nonce() -> str:
    return os.urandom(32).hex()


# ---- scoping ---------------------------------------------------------------------------------------------------


def wearers_visible_to(actor: Actor) -> Select[Any]:
    """The ids of the wearers whose check-in data this actor may see: field work's scoping for staff (caseload,
    allocation, everyone for supervisors), and only its own wearer for a watch."""
    if actor.role is Role.WATCH:
        if actor.wearer_id is None:
            return select(Wearer.id).where(false())
        return select(Wearer.id).where(Wearer.id == actor.wearer_id)
    return fieldwork_service.wearers_visible_to(actor).with_only_columns(Wearer.id)


async def _visible_wearer(ctx: Ctx, wearer_id: uuid.UUID) -> Wearer:
    wearer = (
        await ctx.session.execute(
            select(Wearer).where(Wearer.id == wearer_id, Wearer.id.in_(wearers_visible_to(ctx.actor)))
        )
    ).scalar_one_or_none()
    if wearer is None:
        raise NotFound("no such wearer")
    return wearer


async def active_enrolment(session: AsyncSession, wearer_id: uuid.UUID) -> Enrolment | None:
    return (
        await session.execute(
            select(Enrolment)
            .where(Enrolment.wearer_id == wearer_id, Enrolment.status == EnrolmentStatus.ACTIVE.value)
            .order_by(Enrolment.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


# ---- uploads ---------------------------------------------------------------------------------------------------


def screen_upload(data: bytes, settings: Settings, what: str) -> str:
    """Cheap checks before any pixel is decoded: size, real type from magic bytes, header, complete file.

    Returns the format. Full decoding (and its own limits) happens in the worker.
    """
    if not data:
        raise ValidationFailed(f"{what} is empty", code="IMAGE_UNREADABLE")
    if len(data) > settings.http.max_image_bytes:
        raise PayloadTooLarge(f"{what} is larger than {settings.http.max_image_bytes} bytes")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMedia(f"{what} is not a JPEG or PNG image", code="UNSUPPORTED_TYPE")
    complete = data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9") if fmt == "JPEG" else data.endswith(b"IEND\xaeB`\x82")
    if not complete:
        raise ValidationFailed(f"{what} is truncated", code="IMAGE_UNREADABLE", reason="TRUNCATED")
    try:
        with PILImage.open(io.BytesIO(data), formats=[fmt]) as image:
            width, height = image.size
            animated = fmt == "PNG" and bool(getattr(image, "is_animated", False))
    except Exception:  # any header Pillow cannot read is the uploader's problem, not ours
        raise ValidationFailed(
            f"{what} has no readable {fmt} header", code="IMAGE_UNREADABLE", reason="CORRUPT"
        ) from None
    # the worker's own limits: an image it would refuse is refused here, as a client error that leaves the prompt
    # open, rather than becoming a REJECTED check-in (and a caseworker alert) after a decode in the pool
    limits = policy_from(settings).decode
    if width * height > limits.max_pixels or max(width, height) > limits.max_side_px:
        raise ValidationFailed(f"{what} has too many pixels", code="IMAGE_UNREADABLE", reason="TOO_MANY_PIXELS")
    if animated:
        raise ValidationFailed(f"{what} is animated", code="IMAGE_UNREADABLE", reason="ANIMATED")
    return fmt


def _store_photo(
    session: AsyncSession,
    keys: CheckinKeys,
    data: bytes,
    fmt: str,
    *,
    wearer_id: uuid.UUID,
    kind: ImageKind,
    position: int,
    enrolment_id: uuid.UUID | None = None,
    checkin_id: uuid.UUID | None = None,
) -> Image:
    image_id = uuid.uuid4()
    sha = hashlib.sha256(data).hexdigest()
    key_id, blob = keys.seal_photo(data, photo_aad(str(image_id), str(wearer_id), sha))
    row = Image(
        id=image_id,
        wearer_id=wearer_id,
        enrolment_id=enrolment_id,
        checkin_id=checkin_id,
        kind=kind.value,
        position=position,
        sha256=sha,
        content_type="image/jpeg" if fmt == "JPEG" else "image/png",
        key_id=key_id,
        ciphertext=blob,
    )
    session.add(row)
    return row


def open_photo(settings: Settings, image: Image) -> bytes:
    """Decrypt a stored photo (for the review package; audit the read there)."""
    keys = keys_for(settings)
    return keys.open_photo(image.key_id, image.ciphertext, photo_aad(str(image.id), str(image.wearer_id), image.sha256))


# ---- enrolment -------------------------------------------------------------------------------------------------


async def enrol(
    ctx: Ctx, wearer_id: uuid.UUID, device_id: uuid.UUID, photos: Sequence[bytes], pool: VerificationPool
) -> EnrolmentOut:
    """Link a watch to a wearer with an active non-fitted order, from reference photos that pass every gate."""
    wearer = await _visible_wearer(ctx, wearer_id)
    order = await orders.active_order(ctx.session, wearer.id)
    if order is None or not orders.is_non_fitted(order.content):
        raise PolicyViolation(
            "the wearer has no active order with a non-fitted device", code="NO_ACTIVE_NON_FITTED_ORDER"
        )
    formats = [screen_upload(photo, ctx.settings, f"photo {i + 1}") for i, photo in enumerate(photos)]
    await _enrollable_watch(ctx, device_id, wearer.id)

    policy = policy_from(ctx.settings)
    try:
        pool.admit()
    except PoolFull:
        raise ServiceUnavailable("face verification is busy; try again shortly", code="VERIFICATION_BUSY") from None
    results = await asyncio.gather(*(pool.run(analyse_enrolment, photo, policy) for photo in photos))
    refused = [
        {"field": f"photos[{i}]", "message": ", ".join(r.reasons) or "not usable"}
        for i, r in enumerate(results)
        if not r.accepted
    ]
    if refused:  # the route records the refusal in its own transaction (this one rolls back)
        raise ValidationFailed("a reference photo did not pass the quality gates", errors=refused, code="PHOTO_QUALITY")

    now = utcnow()
    # the first writes: refusals above leave nothing to roll back. A watch replaced by this one stops acting for
    # the wearer (its device record is unbound), then this one is bound: what its signed requests act for.
    replaced = (
        await ctx.session.execute(
            update(Enrolment)
            .where(Enrolment.wearer_id == wearer.id, Enrolment.status == EnrolmentStatus.ACTIVE.value)
            .values(status=EnrolmentStatus.ENDED.value, ended_at=now)
            .returning(Enrolment.device_id)
        )
    ).scalars()
    for old_device in set(replaced) - {device_id}:
        device = await ctx.session.get(Device, old_device)
        if device is not None and device.wearer_id == wearer.id:
            await bind_watch_to_wearer(ctx.session, old_device, None)
    await bind_watch_to_wearer(ctx.session, device_id, wearer.id)
    enrolment = Enrolment(
        wearer_id=wearer.id,
        order_id=order.order_id,
        device_id=device_id,
        status=EnrolmentStatus.ACTIVE.value,
        enrolled_by=ctx.actor.id,
    )
    ctx.session.add(enrolment)
    await ctx.session.flush()
    keys = keys_for(ctx.settings)
    hashes = []
    for position, (photo, fmt, result) in enumerate(zip(photos, formats, results, strict=True)):
        assert result.encoding is not None
        sealed = seal(keys.templates, result.encoding, str(wearer.id), result.provenance.model_id)
        ctx.session.add(
            Template(
                wearer_id=wearer.id,
                enrolment_id=enrolment.id,
                kind=TemplateKind.REFERENCE.value,
                image_sha256=result.analysis.sha256,
                key_id=sealed.key_id,
                template_version=sealed.template_version,
                model_id=sealed.model_id,
                ciphertext=sealed.ciphertext,
            )
        )
        _store_photo(
            ctx.session,
            keys,
            photo,
            fmt,
            wearer_id=wearer.id,
            kind=ImageKind.ENROLMENT,
            position=position,
            enrolment_id=enrolment.id,
        )
        hashes.append(result.analysis.sha256)
    await ctx.audit(
        "checkin.enrolment.created",
        "enrolment",
        enrolment.id,
        wearer_id=str(wearer.id),
        device_id=str(device_id),
        order_id=str(order.order_id),
        photo_sha256=hashes,
        quality=[to_loggable(r.analysis.measures) if r.analysis.measures else None for r in results],
        provenance=to_loggable(results[0].provenance),
        key_id=keys.current_key_id,
        key_derived_for_development=keys.derived_for_development,
    )
    return EnrolmentOut(
        id=enrolment.id,
        wearer_id=wearer.id,
        device_id=device_id,
        order_id=order.order_id,
        references=len(results),
        photo_sha256=hashes,
        key_id=keys.current_key_id,
        policy_version=policy.version,
        created_at=enrolment.created_at,
    )


async def _enrollable_watch(ctx: Ctx, device_id: uuid.UUID, wearer_id: uuid.UUID) -> Device:
    """The device to enrol: an enrolled, active watch of the security package's registry, bound to nobody else.

    The row is locked (PostgreSQL) so two enrolments cannot bind one watch to two wearers."""
    device = (
        await ctx.session.execute(select(Device).where(Device.id == device_id).with_for_update())
    ).scalar_one_or_none()
    if device is None:
        raise ValidationFailed(
            "no enrolled device has this id",
            errors=[{"field": "device_id", "message": "enrol the watch and its key first (POST /api/v1/devices)"}],
            code="DEVICE_UNKNOWN",
        )
    if device.kind != DeviceKind.WATCH:
        raise ValidationFailed(
            "the device is not a watch",
            errors=[{"field": "device_id", "message": "only a watch can check in"}],
            code="DEVICE_NOT_A_WATCH",
        )
    if device.status != DeviceStatus.ACTIVE:
        raise Conflict("the watch is not active", code="DEVICE_NOT_ACTIVE")
    if device.wearer_id is not None and device.wearer_id != wearer_id:
        raise Conflict("the watch is enrolled for another wearer", code="DEVICE_IN_USE")
    other = (
        await ctx.session.execute(
            select(Enrolment.id).where(
                Enrolment.device_id == device_id,
                Enrolment.status == EnrolmentStatus.ACTIVE.value,
                Enrolment.wearer_id != wearer_id,
            )
        )
    ).first()
    if other is not None:
        raise Conflict("the watch is enrolled for another wearer", code="DEVICE_IN_USE")
    return device


# ---- prompts ---------------------------------------------------------------------------------------------------


def _prompt_out(prompt: Prompt) -> PromptOut:
    return PromptOut(
        id=prompt.id,
        kind=prompt.kind,
        status=prompt.status,
        issue_at=prompt.issue_at,
        expires_at=prompt.expires_at,
        nonce=prompt.nonce,
        challenge=prompt.challenge,
    )


async def request_prompt(ctx: Ctx, wearer_id: uuid.UUID) -> PromptOut:
    """An on-demand prompt from the wearer's caseworker, open now for the response window."""
    wearer = await _visible_wearer(ctx, wearer_id)
    enrolment = await active_enrolment(ctx.session, wearer.id)
    if enrolment is None:
        raise Conflict("the wearer has no enrolled watch", code="NOT_ENROLLED")
    order = await orders.active_order(ctx.session, wearer.id)
    if order is None:
        raise Conflict("the wearer has no active order", code="NO_ACTIVE_ORDER")
    now = utcnow()
    nonce = new_nonce()
    prompt = Prompt(
        wearer_id=wearer.id,
        order_id=order.order_id,
        kind=PromptKind.ON_DEMAND.value,
        window_key=None,
        prompt_date=now.date(),
        issue_at=now,
        expires_at=now + timedelta(seconds=ctx.settings.checkin.response_window_seconds),
        nonce=nonce,
        challenge=challenge_for(nonce, ctx.settings, policy_from(ctx.settings)).kind,
        status=PromptStatus.PENDING.value,
        requested_by=ctx.actor.id,
    )
    ctx.session.add(prompt)
    await ctx.session.flush()
    await ctx.audit("checkin.prompt.requested", "prompt", prompt.id, wearer_id=str(wearer.id))
    return _prompt_out(prompt)


async def pending_prompt(ctx: Ctx) -> PromptOut | None:
    """The watch's open prompt (earliest first), if any."""
    wearer_id = _watch_wearer(ctx.actor)
    now = utcnow()
    prompt = (
        await ctx.session.execute(
            select(Prompt)
            .where(
                Prompt.wearer_id == wearer_id,
                Prompt.status == PromptStatus.PENDING.value,
                Prompt.issue_at <= now,
                Prompt.expires_at > now,
            )
            .order_by(Prompt.issue_at)
            .limit(1)
        )
    ).scalar_one_or_none()
    if prompt is None:
        return None
    await ctx.audit("checkin.prompt.delivered", "prompt", prompt.id, wearer_id=str(wearer_id))
    return _prompt_out(prompt)


def _watch_wearer(actor: Actor) -> uuid.UUID:
    return _watch(actor)[0]


def _watch(actor: Actor) -> tuple[uuid.UUID, uuid.UUID]:
    """The wearer and device of a watch actor (from its signed request and its device record)."""
    if actor.role is not Role.WATCH or actor.wearer_id is None or actor.device_id is None:
        raise PermissionDenied("only a wearer's watch may do this")
    return actor.wearer_id, actor.device_id


# ---- submission ------------------------------------------------------------------------------------------------


@dataclass
class Accepted:
    """A check-in accepted for verification: what the worker needs, and what the decision step needs."""

    checkin_id: uuid.UUID
    prompt_id: uuid.UUID
    wearer_id: uuid.UUID
    received_at: datetime
    frames: list[bytes]
    references: list[np.ndarray]
    previous: list[tuple[str, np.ndarray]]
    challenge: Challenge | None
    extra_reasons: list[str] = field(default_factory=list)
    decided: CheckinOut | None = None  # set when no verification is needed (a non-compliant device)


async def accept_checkin(ctx: Ctx, prompt_id: uuid.UUID, body: CheckinIn, pool: VerificationPool) -> Accepted:
    """Validate a submission, claim its prompt and record the check-in (PROCESSING, or decided outright)."""
    wearer_id, device_id = _watch(ctx.actor)
    settings = ctx.settings
    if len(body.frames) > settings.checkin.max_frames:
        raise ValidationFailed(f"at most {settings.checkin.max_frames} frames", code="TOO_MANY_FRAMES")
    formats = [screen_upload(frame, settings, f"frame {i + 1}") for i, frame in enumerate(body.frames)]
    session = ctx.session
    prompt = (
        await session.execute(select(Prompt).where(Prompt.id == prompt_id, Prompt.wearer_id == wearer_id))
    ).scalar_one_or_none()
    if prompt is None:  # first: another wearer's prompt is "not found" whatever the state of this watch
        raise NotFound("no such prompt")
    enrolment = await active_enrolment(session, wearer_id)
    if enrolment is None or enrolment.device_id != device_id:
        raise PermissionDenied("this watch is not enrolled for its wearer", code="DEVICE_NOT_ENROLLED")
    now = utcnow()
    if not hmac.compare_digest(prompt.nonce, body.nonce):
        raise Conflict("the nonce does not belong to this prompt", code="NONCE_MISMATCH")
    if prompt.status in {PromptStatus.SUBMITTED.value, PromptStatus.ANSWERED.value}:
        raise Conflict("this prompt has already been answered: its nonce is spent", code="NONCE_USED")
    if prompt.status == PromptStatus.MISSED.value or now >= prompt.expires_at:
        raise Conflict("the response window of this prompt has passed", code="PROMPT_EXPIRED")
    if now < prompt.issue_at:
        raise Conflict("this prompt is not open yet", code="PROMPT_NOT_OPEN")
    try:
        pool.admit()
    except PoolFull:
        raise ServiceUnavailable("face verification is busy; try again shortly", code="VERIFICATION_BUSY") from None
    claimed = await session.execute(
        update(Prompt)
        .where(Prompt.id == prompt.id, Prompt.status == PromptStatus.PENDING.value)
        .values(status=PromptStatus.SUBMITTED.value)
        .returning(Prompt.id)
    )
    if claimed.first() is None:  # another request spent the nonce between our read and this update
        raise Conflict("this prompt has already been answered: its nonce is spent", code="NONCE_USED")

    # device gate: the published device policy, exactly; NO_DATA is not compliant
    device_record, device_reasons = _judge_device(body.posture, str(ctx.actor.device_id), now)
    # location: zones of the order in force today
    location, location_reasons = await _judge_location(session, prompt, body, now)
    hashes = [hashlib.sha256(frame).hexdigest() for frame in body.frames]
    checkin = Checkin(
        prompt_id=prompt.id,
        wearer_id=wearer_id,
        order_id=prompt.order_id,
        enrolment_id=enrolment.id,
        device_id=ctx.actor.device_id,
        status=CheckinStatus.PROCESSING.value,
        reasons=[],
        nonce=prompt.nonce,
        challenge=prompt.challenge,
        received_at=now,
        device_time=body.device_time,
        latitude=body.location.latitude,
        longitude=body.location.longitude,
        accuracy_m=body.location.accuracy_m,
        location=location,
        device=device_record,
        image_sha256=hashes,
        key_id=keys_for(settings).current_key_id,
    )
    session.add(checkin)
    await session.flush()
    # the device's one posture history (the security package's), judged above by the published policy
    await record_posture(session, device_id, checkin_posture_report(body.posture, checkin.id))
    for position, sha in enumerate(hashes):
        session.add(FrameHash(checkin_id=checkin.id, wearer_id=wearer_id, sha256=sha, position=position))
    skew = abs((_aware(body.device_time) - now).total_seconds())
    clock_reasons = (
        [CheckinReason.DEVICE_CLOCK_SKEW.value] if skew > settings.security.device_clock_skew_seconds else []
    )

    if device_reasons:
        reasons = device_reasons + location_reasons
        checkin.status = CheckinStatus.REJECTED.value
        checkin.reasons = reasons
        checkin.decided_at = now
        await _answer(ctx, prompt.id, checkin, AlertKind.REJECTED)
        await ctx.audit("checkin.decided", "checkin", checkin.id, **_decision_details(checkin, None))
        return Accepted(
            checkin_id=checkin.id,
            prompt_id=prompt.id,
            wearer_id=wearer_id,
            received_at=now,
            frames=[],
            references=[],
            previous=[],
            challenge=None,
            decided=checkin_out(checkin),
        )

    keys = keys_for(settings)
    for position, (frame, fmt) in enumerate(zip(body.frames, formats, strict=True)):
        _store_photo(
            session,
            keys,
            frame,
            fmt,
            wearer_id=wearer_id,
            kind=ImageKind.CHECKIN,
            position=position,
            checkin_id=checkin.id,
        )
    references, previous = await _templates(session, settings, wearer_id, enrolment.id)
    replayed_hash = (
        await session.execute(
            select(FrameHash.sha256)
            .where(FrameHash.wearer_id == wearer_id, FrameHash.sha256.in_(hashes), FrameHash.checkin_id != checkin.id)
            .limit(1)
        )
    ).first()
    extra = list(location_reasons) + clock_reasons
    if replayed_hash is not None:
        extra.append("SUSPECTED_REPLAY")
    policy = policy_from(settings)
    challenge = challenge_for(prompt.nonce, settings, policy) if len(body.frames) > 1 else None
    if challenge is None and settings.checkin.require_liveness:
        extra.append(CheckinReason.LIVENESS_NOT_PERFORMED.value)
    await ctx.audit(
        "checkin.received",
        "checkin",
        checkin.id,
        prompt_id=str(prompt.id),
        nonce=prompt.nonce,
        image_sha256=hashes,
        frames=len(hashes),
    )
    return Accepted(
        checkin_id=checkin.id,
        prompt_id=prompt.id,
        wearer_id=wearer_id,
        received_at=now,
        frames=list(body.frames),
        references=references,
        previous=previous,
        challenge=challenge,
        extra_reasons=extra,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def checkin_posture_report(posture_json: dict[str, Any], checkin_id: uuid.UUID) -> PostureReport:
    """The posture a watch sent with a check-in, as an entry of the security package's posture history.

    Recorded as sent (only cut to the columns' sizes), an empty or unreadable one included, so the history shows
    what the device last said. The attestation verdict is the device's own claim: stored as evidence in
    ``attestation``, never as a verified fact."""
    try:
        posture = posture_from_dict({**posture_json, "device_id": "-"}) if posture_json else None
    except (msgspec.ValidationError, TypeError):
        posture = None
    details: dict[str, str | int | bool | None] = {"source": "checkin", "checkin_id": str(checkin_id)}
    if posture is None:
        details["readable"] = False
        return PostureReport(platform="unknown", os_version="", details=details)
    details["model"] = _text(posture.model, 120)
    details["device_reported_at"] = posture.reported_at.isoformat() if posture.reported_at else None
    attestation = posture.attestation
    return PostureReport(
        platform=_text(posture.platform, 32) or "unknown",
        os_version=_text(posture.os_version, 64) or "",
        security_patch=posture.security_patch.isoformat() if posture.security_patch else None,
        encrypted=posture.encrypted,
        screen_lock=posture.screen_lock,
        rooted=posture.rooted,
        attestation_format=_text(attestation.kind, 32) if attestation else None,
        attestation=msgspec.json.encode(attestation).decode()[:32_768] if attestation else None,
        details=details,
    )


def _judge_device(posture_json: dict[str, Any], device_id: str, now: datetime) -> tuple[dict[str, Any], list[str]]:
    policy = device_policy()
    try:
        posture = posture_from_dict({**posture_json, "device_id": device_id}) if posture_json else None
    except (msgspec.ValidationError, TypeError):
        posture = None
    judged = evaluate_device(posture, policy, now)
    record_ = {
        "posture": posture_json,
        "state": judged.state.value,
        "policy_version": judged.policy_version,
        "failed_rules": judged.reasons,
    }
    if judged.state is DeviceState.COMPLIANT:
        return record_, []
    first = (
        CheckinReason.DEVICE_NO_POSTURE_DATA
        if judged.state is DeviceState.NO_DATA
        else CheckinReason.DEVICE_NON_COMPLIANT
    )
    # NO_DATA is non-compliant too: both codes, so a queue filtering on DEVICE_NON_COMPLIANT sees every refusal
    codes = [CheckinReason.DEVICE_NON_COMPLIANT.value]
    if first is CheckinReason.DEVICE_NO_POSTURE_DATA:
        codes.append(first.value)
    return record_, codes


async def _judge_location(
    session: AsyncSession, prompt: Prompt, body: CheckinIn, now: datetime
) -> tuple[dict[str, Any], list[str]]:
    order = await orders.active_order(session, prompt.wearer_id)
    reasons: list[str] = []
    fix = body.location
    checked = 0
    breaches: list[orders.Breach] = []
    if order is not None:
        checked, breaches = orders.zone_breaches(order.content, fix.longitude, fix.latitude, now.date())
    reasons.extend(dict.fromkeys(b.reason for b in breaches))
    poor = fix.accuracy_m > POOR_ACCURACY_M
    if poor:
        reasons.append(CheckinReason.LOCATION_POOR_ACCURACY.value)
    return {
        "zones_checked": checked,
        "breaches": [{"reason": b.reason, "zone_type": b.zone_type, "description": b.description} for b in breaches],
        "accuracy_m": fix.accuracy_m,
        "poor_accuracy": poor,
        "taken_at": fix.taken_at.isoformat() if fix.taken_at else None,
    }, reasons


async def _templates(
    session: AsyncSession, settings: Settings, wearer_id: uuid.UUID, enrolment_id: uuid.UUID
) -> tuple[list[np.ndarray], list[tuple[str, np.ndarray]]]:
    keys = keys_for(settings)
    refs = (
        (
            await session.execute(
                select(Template).where(
                    Template.enrolment_id == enrolment_id, Template.kind == TemplateKind.REFERENCE.value
                )
            )
        )
        .scalars()
        .all()
    )
    earlier = (
        (
            await session.execute(
                select(Template)
                .where(Template.wearer_id == wearer_id, Template.kind == TemplateKind.CHECKIN.value)
                .order_by(Template.created_at.desc())
                .limit(REPLAY_HISTORY)
            )
        )
        .scalars()
        .all()
    )

    def opened(row: Template) -> np.ndarray:
        sealed = SealedTemplate(
            key_id=row.key_id, template_version=row.template_version, model_id=row.model_id, ciphertext=row.ciphertext
        )
        return open_sealed(keys.templates, sealed, str(wearer_id))

    return [opened(r) for r in refs], [(r.image_sha256, opened(r)) for r in earlier]


async def _answer(ctx: Ctx, prompt_id: uuid.UUID, checkin: Checkin, kind: AlertKind | None) -> None:
    await ctx.session.execute(
        update(Prompt)
        .where(Prompt.id == prompt_id)
        .values(status=PromptStatus.ANSWERED.value, answered_at=checkin.decided_at)
    )
    if kind is not None:
        ctx.session.add(
            Alert(
                prompt_id=prompt_id,
                checkin_id=checkin.id,
                kind=kind.value,
                reasons=list(checkin.reasons),
                status=AlertStatus.OPEN.value,
            )
        )


def _decision_details(checkin: Checkin, verification: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "prompt_id": str(checkin.prompt_id),
        "wearer_id": str(checkin.wearer_id),
        "device_id": str(checkin.device_id),
        "received_at": checkin.received_at.isoformat(),
        "decided_at": checkin.decided_at.isoformat() if checkin.decided_at else None,
        "nonce": checkin.nonce,
        "image_sha256": checkin.image_sha256,
        "decision": checkin.status,
        "reasons": checkin.reasons,
        "distance": checkin.distance,
        "band": checkin.band,
        "policy_version": checkin.policy_version,
        "model_id": checkin.model_id,
        "key_id": checkin.key_id,
        "device_state": checkin.device.get("state"),
        "device_policy_version": checkin.device.get("policy_version"),
        "location": checkin.location,
        "verification": verification,
    }


async def verify_in_pool(pool: VerificationPool, accepted: Accepted, policy: BiometricPolicy) -> Verification:
    """Run the biometric verification of an accepted check-in in a worker process."""
    return await pool.run(
        verify_checkin, accepted.frames, accepted.references, accepted.previous, accepted.challenge, policy
    )


async def decide(ctx: Ctx, accepted: Accepted, verification: Verification) -> CheckinOut:
    """Record the decision: the biometric one, made stricter by what the service found around it."""
    session = ctx.session
    checkin = (await session.execute(select(Checkin).where(Checkin.id == accepted.checkin_id))).scalar_one()
    reasons = [r.value for r in verification.reasons]
    status = CheckinStatus(verification.decision.value)
    for extra in accepted.extra_reasons:
        if extra not in reasons:
            reasons.append(extra)
    if status is CheckinStatus.VERIFIED and accepted.extra_reasons:
        status = CheckinStatus.REFERRED  # a zone breach, a missing liveness answer or a replay goes to review
    loggable = to_loggable(verification)
    checkin.status = status.value
    checkin.reasons = reasons
    checkin.decided_at = utcnow()
    checkin.verification = loggable
    checkin.distance = verification.distance
    checkin.band = verification.band.value if verification.band else None
    checkin.policy_version = verification.provenance.policy_version
    checkin.model_id = verification.provenance.model_id
    encoding = verification.probe_encoding
    if encoding is not None and verification.probe is not None:
        keys = keys_for(ctx.settings)
        sealed = seal(keys.templates, encoding, str(accepted.wearer_id), verification.provenance.model_id)
        session.add(
            Template(
                wearer_id=accepted.wearer_id,
                checkin_id=checkin.id,
                kind=TemplateKind.CHECKIN.value,
                image_sha256=verification.probe.sha256,
                key_id=sealed.key_id,
                template_version=sealed.template_version,
                model_id=sealed.model_id,
                ciphertext=sealed.ciphertext,
            )
        )
    kind = None if status is CheckinStatus.VERIFIED else AlertKind(status.value)
    await _answer(ctx, accepted.prompt_id, checkin, kind)
    await ctx.audit("checkin.decided", "checkin", checkin.id, **_decision_details(checkin, loggable))
    return checkin_out(checkin, retry_advised=verification.retry_advised)


def checkin_out(checkin: Checkin, *, retry_advised: bool | None = None, status_url: str | None = None) -> CheckinOut:
    if retry_advised is None:
        retry_advised = any(r in CAPTURE_REASONS for r in checkin.reasons)
    return CheckinOut(
        id=checkin.id,
        prompt_id=checkin.prompt_id,
        status=checkin.status,
        reasons=list(checkin.reasons),
        retry_advised=bool(retry_advised),
        received_at=checkin.received_at,
        decided_at=checkin.decided_at,
        status_url=status_url,
    )


async def fail_verification(ctx: Ctx, accepted: Accepted, error: str) -> CheckinOut:
    """A worker failed (not the wearer's fault): refer the check-in so a person looks at it."""
    checkin = (await ctx.session.execute(select(Checkin).where(Checkin.id == accepted.checkin_id))).scalar_one()
    checkin.status = CheckinStatus.REFERRED.value
    checkin.reasons = ["VERIFICATION_ERROR", *accepted.extra_reasons]
    checkin.decided_at = utcnow()
    checkin.policy_version = policy_from(ctx.settings).version
    await _answer(ctx, accepted.prompt_id, checkin, AlertKind.REFERRED)
    await ctx.audit("checkin.decided", "checkin", checkin.id, error=error, **_decision_details(checkin, None))
    return checkin_out(checkin)


# ---- reads -----------------------------------------------------------------------------------------------------


async def record_refusal(ctx: Ctx, action: str, resource_type: str, resource_id: Any, error: DomainError) -> None:
    """Audit a refused request in its own transaction (the request's own work rolled back)."""
    await ctx.audit(
        action,
        resource_type,
        resource_id,
        outcome_code=error.code or error.type_slug,
        status=error.status,
        device_id=str(ctx.actor.device_id) if ctx.actor.device_id else None,
    )


async def get_checkin(ctx: Ctx, checkin_id: uuid.UUID) -> CheckinOut:
    """A check-in's status and decision: the watch sees its own wearer's, staff their scope's."""
    statement = select(Checkin).where(Checkin.id == checkin_id, Checkin.wearer_id.in_(wearers_visible_to(ctx.actor)))
    checkin = (await ctx.session.execute(statement)).scalar_one_or_none()
    if checkin is None:
        raise NotFound("no such check-in")
    await ctx.audit("checkin.read", "checkin", checkin.id, wearer_id=str(checkin.wearer_id))
    return checkin_out(checkin)


async def history(ctx: Ctx, limit: int = 50) -> list[HistoryItem]:
    """The watch's own recent prompts and their outcomes (no images, no measures), newest first."""
    wearer_id = _watch_wearer(ctx.actor)
    rows = (
        await ctx.session.execute(
            select(Prompt, Checkin)
            .outerjoin(Checkin, Checkin.prompt_id == Prompt.id)
            .where(Prompt.wearer_id == wearer_id, Prompt.issue_at <= utcnow())
            .order_by(Prompt.issue_at.desc())
            .limit(max(1, min(limit, 200)))
        )
    ).all()
    items = []
    for prompt, checkin in rows:
        outcome = (
            checkin.status
            if checkin
            else (PromptStatus.MISSED.value if prompt.status == PromptStatus.MISSED.value else None)
        )
        items.append(
            HistoryItem(
                prompt_id=prompt.id,
                prompt_kind=prompt.kind,
                prompt_date=prompt.prompt_date,
                issue_at=prompt.issue_at,
                expires_at=prompt.expires_at,
                prompt_status=prompt.status,
                checkin_id=checkin.id if checkin else None,
                outcome=outcome,
                reasons=list(checkin.reasons)
                if checkin
                else ([CheckinReason.MISSED.value] if outcome == "MISSED" else []),
                received_at=checkin.received_at if checkin else None,
            )
        )
    await ctx.audit("checkin.history.read", "wearer", wearer_id, items=len(items))
    return items


# ---- for the review package ------------------------------------------------------------------------------------


class ReviewItem(msgspec.Struct, kw_only=True):
    """One item of a caseworker's queue: a missed prompt, or a referred or rejected check-in."""

    kind: str  # MISSED, REFERRED, REJECTED
    status: str  # OPEN, CLOSED
    wearer_id: uuid.UUID
    prompt_id: uuid.UUID
    checkin_id: uuid.UUID | None
    reasons: list[str]
    created_at: datetime
    prompt_issue_at: datetime
    prompt_expires_at: datetime


def alerts_visible_to(actor: Actor) -> Any:
    """Alerts of the wearers the actor may see, with their prompts (the review package's base statement)."""
    return (
        select(Alert, Prompt)
        .join(Prompt, Prompt.id == Alert.prompt_id)
        .where(Prompt.wearer_id.in_(wearers_visible_to(actor)))
    )


async def review_queue(
    ctx: Ctx,
    *,
    kinds: Sequence[AlertKind] = (AlertKind.REFERRED, AlertKind.REJECTED, AlertKind.MISSED),
    status: AlertStatus | None = AlertStatus.OPEN,
    wearer_id: uuid.UUID | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> list[ReviewItem]:
    """The caseload's review items, newest first (keyset pagination with ``before``)."""
    statement = alerts_visible_to(ctx.actor).where(Alert.kind.in_([k.value for k in kinds]))
    if status is not None:
        statement = statement.where(Alert.status == status.value)
    if wearer_id is not None:
        statement = statement.where(Prompt.wearer_id == wearer_id)
    if before is not None:
        statement = statement.where(Alert.created_at < before)
    statement = statement.order_by(Alert.created_at.desc()).limit(max(1, min(limit, ctx.settings.http.max_page_size)))
    rows = (await ctx.session.execute(statement)).all()
    items = [
        ReviewItem(
            kind=alert.kind,
            status=alert.status,
            wearer_id=prompt.wearer_id,
            prompt_id=alert.prompt_id,
            checkin_id=alert.checkin_id,
            reasons=list(alert.reasons),
            created_at=alert.created_at,
            prompt_issue_at=prompt.issue_at,
            prompt_expires_at=prompt.expires_at,
        )
        for alert, prompt in rows
    ]
    await ctx.audit("checkin.review_queue.read", "caseload", ctx.actor.id, items=len(items))
    return items


async def decision_record(ctx: Ctx, checkin_id: uuid.UUID) -> dict[str, Any]:
    """Everything recorded about one check-in's decision (no images, no templates), for a reviewer."""
    statement = select(Checkin).where(Checkin.id == checkin_id, Checkin.wearer_id.in_(wearers_visible_to(ctx.actor)))
    checkin = (await ctx.session.execute(statement)).scalar_one_or_none()
    if checkin is None:
        raise NotFound("no such check-in")
    await ctx.audit("checkin.decision_record.read", "checkin", checkin.id, wearer_id=str(checkin.wearer_id))
    return {"id": str(checkin.id), **_decision_details(checkin, checkin.verification)}


def library_provenance(settings: Settings) -> dict[str, Any]:
    return to_loggable(provenance(policy_from(settings)))


__all__ = [
    "Ctx",
    "ReviewItem",
    "alerts_visible_to",
    "decision_record",
    "open_photo",
    "review_queue",
    "wearers_visible_to",
]
