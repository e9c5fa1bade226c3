"""Requests and responses of the review API. No images and no protected characteristics in any of them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import msgspec

from review.vocab import REASON_MAX, Outcome

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=REASON_MAX)]


class QueueItem(msgspec.Struct, kw_only=True):
    id: uuid.UUID  # the alert id: the item's identity in the queue
    kind: str  # REFERRED, REJECTED, MISSED
    wearer_id: uuid.UUID
    wearer_name: str
    checkin_id: uuid.UUID | None
    reasons: list[str]
    prompt_issued_at: datetime
    raised_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    version: int  # send back with a claim or decision (optimistic check)


class QueuePage(msgspec.Struct, kw_only=True):
    items: list[QueueItem]
    total: int
    limit: int
    offset: int


class ClaimIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    version: int | None = None


class ClaimOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    claimed_by: str
    claimed_until: datetime
    version: int


class DecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    outcome: Outcome
    reason: Reason
    version: int | None = None


class DecisionOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    item_id: uuid.UUID
    revision: int
    outcome: str
    reason: str
    decided_by: str
    decided_by_role: str
    decided_at: datetime
    supersedes_id: uuid.UUID | None


class CheckinFacts(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    status: str
    received_at: datetime
    device_time: datetime | None
    distance: float | None
    band: str | None
    reasons: list[str]
    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    images: int  # how many can be viewed through the images endpoint (0 once retention purged them)
    images_purged: bool


class ItemDetail(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    status: str  # OPEN or CLOSED
    wearer_id: uuid.UUID
    wearer_name: str
    reasons: list[str]
    prompt_kind: str
    prompt_issued_at: datetime
    prompt_expires_at: datetime
    raised_at: datetime
    checkin: CheckinFacts | None
    claimed_by: str | None
    claimed_until: datetime | None
    outcome: str | None
    version: int
    history: list[DecisionOut]


class Counts(msgspec.Struct, kw_only=True):
    days: int
    issued: int
    pending: int
    verified: int
    referred: int
    missed: int
    decided: int
    accepted: int
    confirmed_non_compliant: int
    excused: int
    undecided: int
    compliance_rate: float | None  # (verified + accepted) / (issued - pending - excused)


class TimelineDay(msgspec.Struct, kw_only=True):
    day: date
    verified: int
    referred: int
    missed: int


class Compliance(msgspec.Struct, kw_only=True):
    wearer_id: uuid.UUID
    wearer_name: str
    windows: list[Counts]
    timeline: list[TimelineDay]


class CaseloadRow(msgspec.Struct, kw_only=True):
    wearer_id: uuid.UUID
    wearer_name: str
    missed_7d: int
    referred_7d: int
    open_items: int
    compliance_rate_30d: float | None


class Caseload(msgspec.Struct, kw_only=True):
    wearers: list[CaseloadRow]


class PromptSent(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    wearer_id: uuid.UUID
    issue_at: datetime
    expires_at: datetime
