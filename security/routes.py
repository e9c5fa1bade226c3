"""HTTP routes of the security package: sign-in and sessions, staff accounts (admin), devices."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from security import accounts, devices, sessions
from security.actor import STAFF_ROLES, Actor, Role
from security.auth import requires
from security.clientaddr import client_address
from security.models import Device, StaffUser
from security.runtime import SecurityRuntime, runtime_of
from security.schemas import (
    DeviceEnrolment,
    DeviceOut,
    DevicePage,
    DeviceStatusChange,
    DeviceToken,
    LoginRequest,
    LogoutRequest,
    Me,
    MfaChallenge,
    MfaRequest,
    Page,
    PostureRecorded,
    PostureReport,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserCreated,
    UserOut,
)

STAFF = sorted(STAFF_ROLES)
ADMIN_ONLY = requires(Role.ADMIN)
ANY_STAFF = requires(*STAFF)
ENROLLERS = requires(Role.FIELD_OFFICER, Role.SUPERVISOR, Role.ADMIN)
DEVICE_MANAGERS = requires(Role.SUPERVISOR, Role.ADMIN)
DEVICES = requires(Role.WATCH, Role.PHONE)
AnyRequest = Request[Any, Any, Any]


def _address(request: AnyRequest) -> str | None:
    return client_address(request.scope, runtime_of(request).settings.http.trusted_proxies)


def _request_id(request: AnyRequest) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def _page(request: AnyRequest, limit: int) -> int:
    return max(1, min(limit, runtime_of(request).settings.http.max_page_size))


def provide_security(request: AnyRequest) -> SecurityRuntime:
    return runtime_of(request)


class AuthController(Controller):
    path = "/auth"
    tags = ["authentication"]

    @post("/login", exclude_from_auth=True, summary="Password step: answers an MFA challenge")
    async def login(self, request: AnyRequest, data: JSONBody[LoginRequest]) -> MfaChallenge:
        rt = runtime_of(request)
        return await sessions.password_step(rt, data.username, data.password, _address(request), _request_id(request))

    @post("/mfa", exclude_from_auth=True, summary="Second factor: answers access and refresh tokens")
    async def mfa(self, request: AnyRequest, data: JSONBody[MfaRequest]) -> TokenPair:
        rt = runtime_of(request)
        return await sessions.mfa_step(rt, data.mfa_token, data.code, _address(request), _request_id(request))

    @post("/refresh", exclude_from_auth=True, summary="Rotate a refresh token")
    async def refresh(self, request: AnyRequest, data: JSONBody[RefreshRequest]) -> TokenPair:
        rt = runtime_of(request)
        return await sessions.refresh(rt, data.refresh_token, _address(request), _request_id(request))

    @post("/logout", guards=[ANY_STAFF], status_code=204, summary="Revoke this access token and its refresh family")
    async def logout(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[Actor],
        data: JSONBody[LogoutRequest],
    ) -> None:
        await sessions.logout(db_session, runtime_of(request), actor, data.refresh_token, _request_id(request))

    @get("/me", guards=[ANY_STAFF], summary="Who the token belongs to")
    async def me(self, actor: NamedDependency[Actor]) -> Me:
        return Me(id=actor.id, role=actor.role.value, team_id=actor.team_id)


def _user_out(user: StaffUser) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        team_id=user.team_id,
        active=user.is_active,
        mfa_enrolled=user.totp_secret is not None,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


class UsersController(Controller):
    path = "/users"
    tags = ["accounts"]

    @post(
        "/", guards=[ADMIN_ONLY], summary="Create a staff account (the TOTP secret and recovery codes are shown once)"
    )
    async def create(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[Actor],
        data: JSONBody[UserCreate],
    ) -> UserCreated:
        account = await accounts.create_staff(
            db_session,
            runtime_of(request),
            actor,
            username=data.username,
            role=data.role,
            display_name=data.display_name,
            password=data.password,
            team=data.team,
            request_id=_request_id(request),
        )
        return UserCreated(
            user=_user_out(account.user),
            totp_secret=account.totp_secret,
            totp_provisioning_uri=account.provisioning_uri,
            recovery_codes=account.recovery_codes,
        )

    @get("/", guards=[ADMIN_ONLY], summary="List staff accounts")
    async def list_users(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        limit: int = Parameter(default=50, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0),
    ) -> Page:
        limit = _page(request, limit)
        rows, total = await accounts.list_staff(db_session, limit, offset)
        return Page(items=[_user_out(u) for u in rows], limit=limit, offset=offset, total=total)

    @post("/{user_id:uuid}/disable", guards=[ADMIN_ONLY], summary="Disable an account and end its sessions")
    async def disable(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[Actor],
        user_id: FromPath[uuid.UUID],
    ) -> UserOut:
        user = await accounts.disable_staff(
            db_session, runtime_of(request), actor, user_id, request_id=_request_id(request)
        )
        return _user_out(user)


def _device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        kind=device.kind,
        label=device.label,
        status=device.status,
        key_algorithm=device.key_algorithm,
        key_thumbprint=device.key_thumbprint,
        team_id=device.team_id,
        wearer_id=device.wearer_id,
        enrolled_by=device.enrolled_by,
        created_at=device.created_at,
        last_seen_at=device.last_seen_at,
    )


class DevicesController(Controller):
    path = "/devices"
    tags = ["devices"]

    @post("/", guards=[ENROLLERS], summary="Enrol a phone or watch: its public key and first posture report")
    async def enrol(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[Actor],
        data: JSONBody[DeviceEnrolment],
    ) -> DeviceOut:
        device = await devices.enrol_device(db_session, runtime_of(request), actor, data, _request_id(request))
        return _device_out(device)

    @get("/", guards=[ENROLLERS], summary="Devices in the caller's scope")
    async def list_devices(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[Actor],
        limit: int = Parameter(default=50, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0),
    ) -> DevicePage:
        limit = _page(request, limit)
        rows, total = await devices.list_devices(db_session, actor, limit, offset)
        return DevicePage(items=[_device_out(d) for d in rows], limit=limit, offset=offset, total=total)

    @get("/{device_id:uuid}", guards=[ENROLLERS], summary="One device in the caller's scope")
    async def get_device(
        self, db_session: NamedDependency[AsyncSession], actor: NamedDependency[Actor], device_id: FromPath[uuid.UUID]
    ) -> DeviceOut:
        return _device_out(await devices.get_device(db_session, actor, device_id))

    @post("/{device_id:uuid}/status", guards=[DEVICE_MANAGERS], summary="Suspend, retire or reinstate a device")
    async def set_status(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        actor: NamedDependency[Actor],
        device_id: FromPath[uuid.UUID],
        data: JSONBody[DeviceStatusChange],
    ) -> DeviceOut:
        device = await devices.change_status(
            db_session, runtime_of(request), actor, device_id, data.status, data.reason, _request_id(request)
        )
        return _device_out(device)

    @post("/token", exclude_from_auth=True, summary="A device's short-lived access token, for a signed request")
    async def token(self, request: AnyRequest) -> DeviceToken:
        rt = runtime_of(request)
        device_id = request.headers.get("x-device-id", "")[:64]
        await rt.limiter.enforce(f"device-token:{device_id}", 30, 60)
        device = await devices.verify_signed_request(request, rt)
        token, ttl = devices.issue_device_token(rt, device)
        return DeviceToken(access_token=token, expires_in=ttl)

    @post(
        "/posture",
        guards=[DEVICES],
        summary="A device reports its posture (signed device request)",
        dependencies={"device": Provide(devices.signed_device)},
    )
    async def posture(
        self, db_session: NamedDependency[AsyncSession], device: NamedDependency[Actor], data: JSONBody[PostureReport]
    ) -> PostureRecorded:
        assert device.device_id is not None
        row = await devices.record_posture(db_session, device.device_id, data)
        return PostureRecorded(device_id=device.device_id, reported_at=row.reported_at)


def router(settings: Settings) -> Router:
    """The security routes under ``/api/v1``, each with its role guard, JSON bodies capped at
    ``EMON_HTTP_MAX_JSON_BYTES``."""
    return Router(
        path="/api/v1",
        route_handlers=[AuthController, UsersController, DevicesController],
        request_max_body_size=settings.http.max_json_bytes,
    )
