"""Check-in records: enrolments (watch + wearer), encrypted templates and images, prompts, check-ins (one decision
record each), the caseworker alerts they raise, and the retention job's run log.

Templates and images are only ever stored as AES-256-GCM ciphertext with the id of the key that sealed them.
A check-in row keeps what a reviewer or an auditor needs (ids, times, nonce, image hashes, measures, distance,
bands, policy/model/library versions, key id, reasons) and outlives its images and templates.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, Timestamps, UUIDPrimaryKey


class Enrolment(UUIDPrimaryKey, Timestamps, Base):
    """A watch linked to a wearer for check-ins under one order, by the member of staff who took the photos."""

    __tablename__ = "checkin_enrolments"

    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    enrolled_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    ended_at: Mapped[datetime | None]


class Template(UUIDPrimaryKey, Base):
    """An encrypted face template: an enrolment reference, or a check-in probe kept for replay checks."""

    __tablename__ = "face_templates"

    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    enrolment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkin_enrolments.id"), index=True)
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkins.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    image_sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    template_version: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(120))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Image(UUIDPrimaryKey, Base):
    """An enrolment or check-in photo as AES-256-GCM ciphertext (never plaintext), deleted by retention."""

    __tablename__ = "checkin_images"

    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    enrolment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkin_enrolments.id"), index=True)
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkins.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(20))
    key_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Prompt(UUIDPrimaryKey, Base):
    """A request to check in: scheduled (one per window and day) or on demand; carries a single-use nonce."""

    __tablename__ = "checkin_prompts"
    __table_args__ = (
        # also the index for a wearer's prompts (leading column)
        UniqueConstraint("wearer_id", "window_key", "prompt_date"),
        # the sweeper's: only open prompts, in expiry order, so a batch stops after n rows and history costs nothing
        Index(
            "ix_checkin_prompts_pending_expires_at",
            "expires_at",
            postgresql_where=text("status = 'PENDING'"),
            sqlite_where=text("status = 'PENDING'"),
        ),
    )

    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[str] = mapped_column(String(16))
    window_key: Mapped[str | None] = mapped_column(String(40))  # e.g. MONDAY-09:00-10:00; NULL on demand
    prompt_date: Mapped[date]
    issue_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    nonce: Mapped[str] = mapped_column(String(64))  # 32 random bytes, hex (looked up by prompt id, never by nonce)
    challenge: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    answered_at: Mapped[datetime | None]
    missed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Checkin(UUIDPrimaryKey, Timestamps, Base):
    """One check-in and its decision record (kept for the record retention period; images go sooner)."""

    __tablename__ = "checkins"

    prompt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_prompts.id"), unique=True)
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"))
    enrolment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_enrolments.id"))
    device_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(16), index=True)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    nonce: Mapped[str] = mapped_column(String(64))
    challenge: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[datetime] = mapped_column(index=True)
    decided_at: Mapped[datetime | None]
    device_time: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    location: Mapped[dict[str, Any]] = mapped_column(JSON)  # zones checked and broken, accuracy note
    device: Mapped[dict[str, Any]] = mapped_column(JSON)  # posture as sent and the compliance judgement
    image_sha256: Mapped[list[str]] = mapped_column(JSON)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # biometrics.to_loggable: no templates
    distance: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str | None] = mapped_column(String(16))
    policy_version: Mapped[str | None] = mapped_column(String(40))
    model_id: Mapped[str | None] = mapped_column(String(120))
    key_id: Mapped[str | None] = mapped_column(String(64))
    images_purged_at: Mapped[datetime | None]
    # Review decision fields belong to the review package; added by its migration.


class FrameHash(UUIDPrimaryKey, Base):
    """The SHA-256 of each frame of a check-in, kept with the record for replay checks after images are gone."""

    __tablename__ = "checkin_frame_hashes"
    __table_args__ = (Index("ix_checkin_frame_hashes_wearer_sha", "wearer_id", "sha256"),)

    checkin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkins.id"), index=True)
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)


class Alert(Base):
    """An item for the caseworker queue: a missed, referred or rejected check-in. One per prompt, by its key; the
    wearer is the prompt's (scoped reads join through it).

    ``prompt_id`` has no foreign-key constraint, on purpose: the sweeper inserts alerts by the hundred thousand from
    the ids its own UPDATE just returned, and the per-row constraint trigger was a quarter of the sweep's time.
    Alerts are only ever written with their prompt (sweeper, check-in decision) and deleted before it (retention).
    """

    __tablename__ = "checkin_alerts"
    __table_args__ = (
        Index(
            "ix_checkin_alerts_checkin_id",
            "checkin_id",
            postgresql_where=text("checkin_id IS NOT NULL"),
            sqlite_where=text("checkin_id IS NOT NULL"),
        ),
    )

    prompt_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkins.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RetentionRun(UUIDPrimaryKey, Base):
    """When the retention purge ran and what it deleted (the compliance module reads the latest row)."""

    __tablename__ = "retention_runs"

    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime]
    dry_run: Mapped[bool] = mapped_column(Boolean)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
