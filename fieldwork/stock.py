"""Device stock: registration, the status state machine, allocation to officers, returns and write-offs."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import func, select

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from fieldwork.models import Device
from fieldwork.schemas import DeviceIn, DeviceOut, Page, StockMoveIn
from fieldwork.service import ALL_SEEING, Ctx, check_version, devices_visible_to
from fieldwork.vocab import DEVICE_TRANSITIONS, DeviceStatus, DeviceType
from security.actor import Role
from security.models import StaffUser

ACTION_TARGET = {
    "ALLOCATE": DeviceStatus.ALLOCATED_TO_OFFICER,
    "RETURN_TO_STOCK": DeviceStatus.IN_STOCK,
    "MARK_FAULTY": DeviceStatus.FAULTY,
    "MARK_LOST": DeviceStatus.LOST,
    "RETIRE": DeviceStatus.RETIRED,
}
SUPERVISOR_ONLY = frozenset({"RETIRE"})


def move(device: Device, target: DeviceStatus) -> None:
    """Change a device's status, refusing any move the state machine does not allow."""
    current = DeviceStatus(device.status)
    if target not in DEVICE_TRANSITIONS[current]:
        raise Conflict(
            f"device {device.serial} cannot go from {current.value} to {target.value}",
            code="device-transition",
            current=device_state(device),
        )
    device.status = target.value


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        version=device.version,
        serial=device.serial,
        device_type=device.device_type,
        model=device.model,
        firmware=device.firmware,
        status=device.status,
        team_id=device.team_id,
        officer_id=device.officer_id,
    )


def device_state(device: Device) -> dict[str, Any]:
    return msgspec.to_builtins(device_out(device))


async def device_by_serial(ctx: Ctx, serial: str) -> Device | None:
    statement = devices_visible_to(ctx.actor).where(Device.serial == serial)
    return (await ctx.session.execute(statement)).scalar_one_or_none()


async def list_devices(
    ctx: Ctx, status: DeviceStatus | None, device_type: DeviceType | None, limit: int, offset: int
) -> Page:
    statement = devices_visible_to(ctx.actor)
    if status is not None:
        statement = statement.where(Device.status == status.value)
    if device_type is not None:
        statement = statement.where(Device.device_type == device_type.value)
    total = (await ctx.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = await ctx.session.execute(statement.order_by(Device.serial).limit(limit).offset(offset))
    return Page(items=[device_out(d) for d in rows.scalars()], total=total, limit=limit, offset=offset)


async def register_device(ctx: Ctx, data: DeviceIn) -> DeviceOut:
    existing = (await ctx.session.execute(select(Device.id).where(Device.serial == data.serial))).first()
    if existing is not None:
        raise Conflict(f"a device with serial {data.serial} is already registered", code="duplicate-serial")
    device = Device(
        serial=data.serial,
        device_type=data.device_type.value,
        model=data.model,
        firmware=data.firmware,
        status=DeviceStatus.IN_STOCK.value,
        team_id=data.team_id or ctx.actor.team_id,
    )
    ctx.session.add(device)
    await ctx.flush("device")
    await ctx.audit("device.register", "device", device.id, details={"serial": device.serial})
    return device_out(device)


async def visible_device(ctx: Ctx, device_id: uuid.UUID) -> Device:
    device = (
        await ctx.session.execute(devices_visible_to(ctx.actor).where(Device.id == device_id))
    ).scalar_one_or_none()
    if device is None:
        raise NotFound("no such device")
    return device


async def stock_move(ctx: Ctx, device: Device, data: StockMoveIn) -> DeviceOut:
    """Allocate, return, write off. Fitted devices only come off through a removal."""
    check_version(device.version, data.version, "device", device_state(device))
    if data.action in SUPERVISOR_ONLY and ctx.actor.role not in ALL_SEEING:
        raise PermissionDenied("only a supervisor or admin may retire a device")
    if device.status == DeviceStatus.FITTED.value:
        raise Conflict(
            f"device {device.serial} is fitted: record a removal", code="device-fitted", current=device_state(device)
        )
    target = ACTION_TARGET[data.action]
    officer_id: uuid.UUID | None = None
    officer_team: uuid.UUID | None = None
    if data.action == "ALLOCATE":
        officer_id = data.officer_id or ctx.actor.id
        if ctx.actor.role is Role.FIELD_OFFICER:
            if officer_id != ctx.actor.id:
                raise PermissionDenied("an officer may only take stock for themselves")
            officer_team = ctx.actor.team_id  # the authenticated officer: no lookup needed
        else:
            officer = await ctx.session.get(StaffUser, officer_id)
            if officer is None or officer.role != Role.FIELD_OFFICER.value:
                raise ValidationFailed(
                    "Invalid officer", errors=[{"field": "officer_id", "message": "not a field officer"}]
                )
            officer_team = officer.team_id
        if device.status == DeviceStatus.ALLOCATED_TO_OFFICER.value and device.officer_id == officer_id:
            return device_out(device)  # already theirs
    elif (
        ctx.actor.role is Role.FIELD_OFFICER
        and device.status == DeviceStatus.ALLOCATED_TO_OFFICER.value
        and device.officer_id != ctx.actor.id
    ):
        raise Conflict(f"device {device.serial} is held by another officer", code="device-held")
    move(device, target)
    device.officer_id = officer_id
    device.team_id = officer_team or device.team_id
    await ctx.flush("device")
    await ctx.audit("device.move", "device", device.id, details={"action": data.action, "status": device.status})
    return device_out(device)
