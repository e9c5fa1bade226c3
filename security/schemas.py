"""Request and response bodies of the security routes. No secret leaves except where a response says it is shown
once (a new account's TOTP secret and recovery codes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Username = Annotated[str, msgspec.Meta(min_length=3, max_length=80)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class MfaChallenge(msgspec.Struct):
    mfa_token: str
    expires_in: int
    methods: list[str] = msgspec.field(default_factory=lambda: ["totp", "recovery_code"])


class MfaRequest(msgspec.Struct, forbid_unknown_fields=True):
    mfa_token: Secret
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Secret


class LogoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: Secret | None = None


class Me(msgspec.Struct):
    id: uuid.UUID
    role: str
    team_id: uuid.UUID | None
    device_id: uuid.UUID | None = None
    wearer_id: uuid.UUID | None = None


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    role: Literal["field_officer", "caseworker", "supervisor", "admin"]
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    team: Annotated[str, msgspec.Meta(min_length=1, max_length=120)] | None = None


class UserOut(msgspec.Struct):
    id: uuid.UUID
    username: str
    display_name: str
    role: str
    team_id: uuid.UUID | None
    active: bool
    mfa_enrolled: bool
    created_at: datetime
    last_login_at: datetime | None


class UserCreated(msgspec.Struct):
    """Shown once: the authenticator secret and the recovery codes are not stored in a readable form."""

    user: UserOut
    totp_secret: str
    totp_provisioning_uri: str
    recovery_codes: list[str]


class Page(msgspec.Struct):
    items: list[UserOut]
    limit: int
    offset: int
    total: int


class PostureReport(msgspec.Struct, forbid_unknown_fields=True):
    platform: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    os_version: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    security_patch: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    encrypted: bool | None = None
    screen_lock: bool | None = None
    rooted: bool | None = None
    attestation_format: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    attestation: Annotated[str, msgspec.Meta(max_length=32_768)] | None = None
    details: dict[str, str | int | bool | None] = msgspec.field(default_factory=dict)


class DeviceEnrolment(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["phone", "watch"]
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    public_key: Annotated[str, msgspec.Meta(min_length=40, max_length=4096)]
    posture: PostureReport


class DeviceOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    label: str
    status: str
    key_algorithm: str
    key_thumbprint: str
    team_id: uuid.UUID | None
    wearer_id: uuid.UUID | None
    enrolled_by: uuid.UUID
    created_at: datetime
    last_seen_at: datetime | None


class DevicePage(msgspec.Struct):
    items: list[DeviceOut]
    limit: int
    offset: int
    total: int


class DeviceStatusChange(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["active", "suspended", "retired"]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class DeviceToken(msgspec.Struct):
    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret


class PostureRecorded(msgspec.Struct):
    device_id: uuid.UUID
    reported_at: datetime
