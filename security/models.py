"""Staff accounts and teams, their second factor and sessions, token revocations, and enrolled devices."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Timestamps, UUIDPrimaryKey


class Team(UUIDPrimaryKey, Timestamps, Base):
    """A team of field officers (a region); stock and jobs are shared within it."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    region: Mapped[str] = mapped_column(String(120))


class StaffUser(UUIDPrimaryKey, Timestamps, Base):
    """A member of staff. Admin accounts are separate accounts, not a flag on an everyday one."""

    __tablename__ = "staff_users"

    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # TOTP secret sealed with AES-GCM (security.mfa); the last accepted time step stops a code being replayed.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enrolled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class RecoveryCode(UUIDPrimaryKey, Base):
    """A single-use second factor, stored only as an HMAC digest."""

    __tablename__ = "staff_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class RefreshToken(UUIDPrimaryKey, Base):
    """One opaque refresh token (stored as its SHA-256). Each use rotates it to a new one in the same family; a
    rotated token presented again means it leaked, and the whole family is revoked."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    access_jti: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class TokenRevocation(Base):
    """Revoked access tokens when no Redis is configured: a ``jti``, or every token of a subject issued up to a time.
    Rows may be deleted once ``expires_at`` has passed (the tokens they name have expired by then)."""

    __tablename__ = "token_revocations"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    revoked_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DeviceKind(enum.StrEnum):
    PHONE = "phone"  # a field officer's phone
    WATCH = "watch"  # a wearer's smartwatch


class DeviceStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RETIRED = "retired"


class Device(UUIDPrimaryKey, Timestamps, Base):
    """An enrolled phone or watch, known by the public key it signs its requests with."""

    __tablename__ = "devices"

    kind: Mapped[str] = mapped_column(String(16), index=True)
    label: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), index=True)
    key_algorithm: Mapped[str] = mapped_column(String(16))  # Ed25519 or P-256
    public_key: Mapped[str] = mapped_column(Text)  # SubjectPublicKeyInfo PEM
    key_thumbprint: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the DER SPKI, hex
    enrolled_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    # A watch acts for exactly one wearer, bound by check-in enrolment (no foreign key: wearers live in fieldwork).
    wearer_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    last_seen_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]


class DevicePosture(UUIDPrimaryKey, Base):
    """One posture report: what the device says about itself and the attestation evidence it could give."""

    __tablename__ = "device_postures"

    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    reported_at: Mapped[datetime]
    platform: Mapped[str] = mapped_column(String(32))
    os_version: Mapped[str] = mapped_column(String(64))
    security_patch: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD
    encrypted: Mapped[bool | None] = mapped_column(Boolean)
    screen_lock: Mapped[bool | None] = mapped_column(Boolean)
    rooted: Mapped[bool | None] = mapped_column(Boolean)
    attestation_format: Mapped[str | None] = mapped_column(String(32))
    attestation: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # further reported facts, JSON


class DeviceNonce(Base):
    """Nonces of signed device requests when no Redis is configured; the primary key makes a replay fail."""

    __tablename__ = "device_nonces"

    device_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
