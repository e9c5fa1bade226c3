"""Request and response bodies of the check-in API (msgspec). Images travel as base64 in JSON (``bytes`` fields):
one body the device key can sign as a whole; each decoded image is capped by ``EMON_HTTP_MAX_IMAGE_BYTES``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

Latitude = Annotated[float, Meta(ge=-90, le=90)]
Longitude = Annotated[float, Meta(ge=-180, le=180)]


class EnrolmentIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    wearer_id: uuid.UUID
    device_id: uuid.UUID
    photos: Annotated[list[bytes], Meta(min_length=1, max_length=5)]


class EnrolmentOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    wearer_id: uuid.UUID
    device_id: uuid.UUID
    order_id: uuid.UUID
    references: int
    photo_sha256: list[str]
    key_id: str
    policy_version: str
    created_at: datetime


class PromptOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    status: str
    issue_at: datetime
    expires_at: datetime
    nonce: str  # hex; send it back with the check-in
    challenge: str  # TURN_LEFT, TURN_RIGHT, NOD (or BLINK): what the burst of frames must show


class GpsFix(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    latitude: Latitude
    longitude: Longitude
    accuracy_m: Annotated[float, Meta(ge=0, le=100_000)]
    taken_at: datetime | None = None


class CheckinIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    nonce: Annotated[str, Meta(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")]
    frames: Annotated[list[bytes], Meta(min_length=1, max_length=5)]
    location: GpsFix
    device_time: datetime
    posture: dict[str, Any]  # compliance.devices.DevicePosture as JSON


class CheckinOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    prompt_id: uuid.UUID
    status: str  # PROCESSING, VERIFIED, REFERRED, REJECTED
    reasons: list[str]
    retry_advised: bool = False
    received_at: datetime
    decided_at: datetime | None = None
    status_url: str | None = None


class HistoryItem(msgspec.Struct, kw_only=True):
    prompt_id: uuid.UUID
    prompt_kind: str
    prompt_date: date
    issue_at: datetime
    expires_at: datetime
    prompt_status: str
    checkin_id: uuid.UUID | None = None
    outcome: str | None = None  # the check-in's status, or MISSED
    reasons: list[str] = []
    received_at: datetime | None = None
