"""Officers' work: the job list and detail, allocation, and what happens at a visit (fitting, removal, failure)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select

from core.clock import utcnow
from core.errors import Conflict, ValidationFailed
from fieldwork.intake import create_job, required_equipment
from fieldwork.models import (
    Device,
    DeviceAssignment,
    Fitting,
    Order,
    OrderVersion,
    Photo,
    Removal,
    Visit,
    VisitJob,
    Wearer,
)
from fieldwork.schemas import (
    AllocationIn,
    FailedVisitIn,
    FailedVisitOut,
    FittingIn,
    FittingOut,
    JobDetail,
    JobSummary,
    JobWearer,
    Page,
    PhotoRef,
    RebookIn,
    RemovalIn,
    RemovalOut,
    VisitOut,
)
from fieldwork.service import Ctx, check_version, decode_content, jobs_visible_to, submitted_content, visible_job
from fieldwork.stock import device_by_serial, move
from fieldwork.vocab import (
    ENDING_REASONS,
    FAILED_OUTCOMES,
    DeviceCondition,
    DeviceStatus,
    JobKind,
    JobStatus,
    OrderStatus,
    RemovalReason,
    VisitOutcome,
)
from security.actor import Role
from security.models import StaffUser

CLOCK_SKEW = timedelta(minutes=5)
REINSTALL_REASONS = frozenset(
    {RemovalReason.REPLACEMENT, RemovalReason.FAULT, RemovalReason.DAMAGED, RemovalReason.TAMPERED}
)
CONDITION_TO_STATUS = {
    DeviceCondition.GOOD: DeviceStatus.IN_STOCK,
    DeviceCondition.DAMAGED: DeviceStatus.RETURNED,
    DeviceCondition.FAULTY: DeviceStatus.FAULTY,
    DeviceCondition.NOT_RECOVERED: DeviceStatus.LOST,
}


def job_summary(job: VisitJob) -> JobSummary:
    address = job.address or {}
    return JobSummary(
        id=job.id,
        version=job.version,
        kind=job.kind,
        status=job.status,
        order_id=job.order_id,
        team_id=job.team_id,
        officer_id=job.officer_id,
        appointment_start=job.appointment_start,
        appointment_end=job.appointment_end,
        town=address.get("town"),
        postcode=address.get("postcode"),
    )


def job_state(job: VisitJob) -> dict[str, Any]:
    return msgspec.to_builtins(job_summary(job))


LIST_COLUMNS = (
    VisitJob.id,
    VisitJob.version,
    VisitJob.kind,
    VisitJob.status,
    VisitJob.order_id,
    VisitJob.team_id,
    VisitJob.officer_id,
    VisitJob.appointment_start,
    VisitJob.appointment_end,
    VisitJob.address,
)


async def list_jobs(ctx: Ctx, status: JobStatus | None, limit: int, offset: int) -> Page:
    """The caller's jobs (allocated to them or their team), earliest appointment first.

    One round trip: the page and the total (a window count) come from the same scoped statement.
    """
    statement = jobs_visible_to(ctx.actor)
    if status is not None:
        statement = statement.where(VisitJob.status == status.value)
    rows = (
        await ctx.session.execute(
            statement.with_only_columns(*LIST_COLUMNS, func.count().over().label("total"))
            .order_by(VisitJob.appointment_start, VisitJob.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    if rows:
        total = rows[0].total
    elif offset:
        total = (await ctx.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    else:
        total = 0
    items = [
        JobSummary(
            id=row.id,
            version=row.version,
            kind=row.kind,
            status=row.status,
            order_id=row.order_id,
            team_id=row.team_id,
            officer_id=row.officer_id,
            appointment_start=row.appointment_start,
            appointment_end=row.appointment_end,
            town=(row.address or {}).get("town"),
            postcode=(row.address or {}).get("postcode"),
        )
        for row in rows
    ]
    await ctx.audit("job.list", "job", None, details={"count": len(items)})
    return Page(items=items, total=total, limit=limit, offset=offset)


async def _open_assignments(ctx: Ctx, order_id: uuid.UUID) -> list[tuple[DeviceAssignment, Device]]:
    rows = await ctx.session.execute(
        select(DeviceAssignment, Device)
        .join(Device, Device.id == DeviceAssignment.device_id)
        .where(DeviceAssignment.order_id == order_id, DeviceAssignment.ended_at.is_(None))
        .order_by(Device.serial)
    )
    return [(a, d) for a, d in rows.all()]


async def job_detail(ctx: Ctx, job_id: uuid.UUID) -> JobDetail:
    """What the officer needs before the visit: address, risk, conditions and the equipment to bring."""
    job = await visible_job(ctx, job_id)
    order = await ctx.session.get_one(Order, job.order_id)
    version = await ctx.session.get_one(OrderVersion, job.order_version_id)
    content = decode_content(version.content)
    wearer = await ctx.session.get_one(Wearer, job.wearer_id)
    visits = (
        (await ctx.session.execute(select(Visit).where(Visit.job_id == job.id).order_by(Visit.visited_at)))
        .scalars()
        .all()
    )
    await ctx.audit("job.read", "job", job.id, details={"wearer_id": str(wearer.id)})
    return JobDetail(
        id=job.id,
        version=job.version,
        kind=job.kind,
        status=job.status,
        order_id=order.id,
        order_status=order.status,
        order_type=order.order_type,
        team_id=job.team_id,
        officer_id=job.officer_id,
        appointment_start=job.appointment_start,
        appointment_end=job.appointment_end,
        address=job.address,
        wearer=JobWearer(**{name: getattr(wearer, name) for name in JobWearer.__struct_fields__}),
        risk=content.risk,
        conditions=content.conditions,
        required_equipment=[" or ".join(types) for types in required_equipment(content)],
        fitted_devices=[device.serial for _, device in await _open_assignments(ctx, order.id)],
        visits=[
            VisitOut(id=v.id, outcome=v.outcome, notes=v.notes, visited_at=v.visited_at, officer_id=v.officer_id)
            for v in visits
        ],
    )


async def allocate(ctx: Ctx, job_id: uuid.UUID, data: AllocationIn) -> JobSummary:
    job = await visible_job(ctx, job_id)
    check_version(job.version, data.version, "job", job_state(job))
    officer = await ctx.session.get(StaffUser, data.officer_id)
    if officer is None or officer.role != Role.FIELD_OFFICER.value or not officer.is_active:
        raise ValidationFailed("Invalid officer", errors=[{"field": "officer_id", "message": "not a field officer"}])
    if job.status != JobStatus.OPEN.value:
        raise Conflict(f"the job is {job.status}", code="job-closed", current=job_state(job))
    job.officer_id = officer.id
    job.team_id = officer.team_id or job.team_id
    await ctx.flush("job")
    await ctx.audit("job.allocate", "job", job.id, details={"officer_id": str(officer.id)})
    return job_summary(job)


async def rebook(ctx: Ctx, job_id: uuid.UUID, data: RebookIn) -> JobSummary:
    """A new appointment window for an open job (after a failed visit, or at the wearer's request)."""
    job = await visible_job(ctx, job_id)
    check_version(job.version, data.version, "job", job_state(job))
    _open_job(job)
    if data.appointment_end <= data.appointment_start:
        raise ValidationFailed(
            "Invalid window", errors=[{"field": "appointment_end", "message": "must be after the start"}]
        )
    job.appointment_start = data.appointment_start
    job.appointment_end = data.appointment_end
    await ctx.flush("job")
    await ctx.audit("job.rebook", "job", job.id, details={"start": data.appointment_start.isoformat()})
    return job_summary(job)


def _open_job(job: VisitJob, kind: JobKind | None = None) -> None:
    if job.status != JobStatus.OPEN.value:
        raise Conflict(f"the job is {job.status}", code="job-closed", current=job_state(job))
    if kind is not None and job.kind != kind.value:
        raise Conflict(f"this is a {job.kind} job", code="wrong-job-kind", current=job_state(job))


def _not_in_future(when: Any, field: str) -> None:
    if when > utcnow() + CLOCK_SKEW:
        raise ValidationFailed("Time in the future", errors=[{"field": field, "message": "must not be in the future"}])


async def record_fitting(ctx: Ctx, job_id: uuid.UUID, data: FittingIn) -> FittingOut:
    job = await visible_job(ctx, job_id)
    check_version(job.version, data.version, "job", job_state(job))
    _open_job(job, JobKind.FITTING)
    order = await ctx.session.get_one(Order, job.order_id)
    if order.status not in (OrderStatus.SUBMITTED.value, OrderStatus.ACTIVE.value):
        raise Conflict(f"the order is {order.status}", code="order-not-fittable")
    problems: list[dict[str, str]] = []
    _not_in_future(data.installed_at, "installed_at")
    if not data.fit_check_passed:
        problems.append(
            {"field": "fit_check_passed", "message": "a failed fit check is a failed visit (EQUIPMENT_FAULT)"}
        )
    if not data.signal_check_passed:
        problems.append(
            {"field": "signal_check_passed", "message": "a failed signal check is a failed visit (EQUIPMENT_FAULT)"}
        )
    serials = [d.serial for d in data.devices]
    if len(set(serials)) != len(serials):
        problems.append({"field": "devices", "message": "a serial is listed twice"})
    devices: list[Device] = []
    for i, item in enumerate(data.devices):
        device = await device_by_serial(ctx, item.serial)
        if device is None:
            problems.append({"field": f"devices[{i}].serial", "message": "no such device in your stock"})
            continue
        devices.append(device)
    if problems:
        raise ValidationFailed("The fitting cannot be recorded", errors=problems)
    for device in devices:  # conflicts after validation, so the officer sees every fixable problem first
        if device.status == DeviceStatus.FITTED.value:
            raise Conflict(
                f"device {device.serial} is already fitted to a wearer; remove it first",
                code="device-already-fitted",
                serial=device.serial,
            )
        if device.status not in (DeviceStatus.IN_STOCK.value, DeviceStatus.ALLOCATED_TO_OFFICER.value):
            raise Conflict(
                f"device {device.serial} is {device.status}", code="device-unavailable", serial=device.serial
            )
        if device.officer_id not in (None, ctx.actor.id):
            raise Conflict(f"device {device.serial} is allocated to another officer", code="device-unavailable")
    content = decode_content((await ctx.session.get_one(OrderVersion, job.order_version_id)).content)
    # What is already worn for this order (a re-fit after a faulty tag) counts towards the equipment it needs.
    types = {d.device_type for d in devices} | {d.device_type for _, d in await _open_assignments(ctx, order.id)}
    missing = [" or ".join(need) for need in required_equipment(content) if not types.intersection(need)]
    if missing:
        raise ValidationFailed(
            "The equipment does not match the order",
            errors=[{"field": "devices", "message": f"this order needs: {', '.join(missing)}"}],
        )
    now = utcnow()
    fitting = Fitting(
        job_id=job.id,
        order_id=order.id,
        wearer_id=job.wearer_id,
        officer_id=ctx.actor.id,
        installed_at=data.installed_at,
        fit_check_passed=data.fit_check_passed,
        signal_check_passed=data.signal_check_passed,
        wearer_acknowledged=data.wearer_acknowledged,
        location=msgspec.to_builtins(data.location) if data.location else None,
        photos=list(data.photos),
        notes=data.notes,
    )
    ctx.session.add(fitting)
    await ctx.session.flush()
    assignments: list[DeviceAssignment] = []
    placements = {d.serial: d.placement for d in data.devices}
    for device in devices:
        move(device, DeviceStatus.FITTED)
        device.officer_id = None
        assignment = DeviceAssignment(
            device_id=device.id,
            wearer_id=job.wearer_id,
            order_id=order.id,
            fitting_id=fitting.id,
            placement=placements[device.serial].value,
            started_at=data.installed_at,
        )
        ctx.session.add(assignment)
        assignments.append(assignment)
    ctx.session.add(
        Visit(
            job_id=job.id,
            officer_id=ctx.actor.id,
            outcome=VisitOutcome.COMPLETED.value,
            notes=data.notes,
            visited_at=data.installed_at,
            location=fitting.location,
        )
    )
    job.status = JobStatus.COMPLETED.value
    job.completed_at = now
    if job.officer_id is None:
        job.officer_id = ctx.actor.id
    if order.status != OrderStatus.ACTIVE.value:
        order.status = OrderStatus.ACTIVE.value
        order.activated_at = data.installed_at
    order.updated_at = now
    await ctx.flush("job or device")
    stored = set(
        (await ctx.session.execute(select(Photo.sha256).where(Photo.sha256.in_(data.photos)))).scalars()
        if data.photos
        else []
    )
    await ctx.audit(
        "fitting.record",
        "job",
        job.id,
        details={"fitting_id": str(fitting.id), "order_id": str(order.id), "devices": serials},
    )
    return FittingOut(
        id=fitting.id,
        job_id=job.id,
        job_version=job.version,
        order_id=order.id,
        order_status=order.status,
        installed_at=fitting.installed_at,
        devices=serials,
        assignments=[a.id for a in assignments],
        photos=[PhotoRef(sha256=sha, pending=sha not in stored) for sha in data.photos],
    )


async def _has_open_job(ctx: Ctx, order_id: uuid.UUID, kind: JobKind) -> bool:
    statement = select(VisitJob.id).where(
        VisitJob.order_id == order_id, VisitJob.kind == kind.value, VisitJob.status == JobStatus.OPEN.value
    )
    return (await ctx.session.execute(statement.limit(1))).first() is not None


async def record_removal(ctx: Ctx, job_id: uuid.UUID, data: RemovalIn) -> RemovalOut:
    """Take devices off: assignments close, devices go back to stock (or faulty/lost); ending reasons end the order."""
    job = await visible_job(ctx, job_id)
    check_version(job.version, data.version, "job", job_state(job))
    order = await ctx.session.get_one(Order, job.order_id)
    if order.status != OrderStatus.ACTIVE.value:
        raise Conflict(f"the order is {order.status}: nothing is fitted", code="order-not-active")
    _not_in_future(data.removed_at, "removed_at")
    fitted = {device.serial: (assignment, device) for assignment, device in await _open_assignments(ctx, order.id)}
    problems = [
        {"field": f"devices[{i}].serial", "message": "not fitted on this order"}
        for i, item in enumerate(data.devices)
        if item.serial not in fitted
    ]
    listed = {item.serial for item in data.devices}
    if data.reason in ENDING_REASONS and set(fitted) - listed:
        left = ", ".join(sorted(set(fitted) - listed))
        problems.append({"field": "devices", "message": f"the order ends: remove every fitted device ({left})"})
    if problems:
        raise ValidationFailed("The removal cannot be recorded", errors=problems)
    removal = Removal(
        order_id=order.id,
        job_id=job.id,
        officer_id=ctx.actor.id,
        removed_at=data.removed_at,
        reason=data.reason.value,
        notes=data.notes,
        devices=[],
    )
    ctx.session.add(removal)
    await ctx.session.flush()
    outcomes: list[dict[str, Any]] = []
    for item in data.devices:
        assignment, device = fitted[item.serial]
        assignment.ended_at = data.removed_at
        assignment.removal_id = removal.id
        target = CONDITION_TO_STATUS[item.condition]
        move(device, target)
        device.officer_id = None
        if ctx.actor.team_id is not None:
            device.team_id = ctx.actor.team_id  # back into the stock of the team that took it off
        outcomes.append({"serial": device.serial, "condition": item.condition.value, "status": target.value})
    removal.devices = outcomes
    ctx.session.add(
        Visit(
            job_id=job.id,
            officer_id=ctx.actor.id,
            outcome=VisitOutcome.COMPLETED.value,
            notes=data.notes,
            visited_at=data.removed_at,
        )
    )
    now = utcnow()
    if job.kind == JobKind.REMOVAL.value:
        job.status = JobStatus.COMPLETED.value
        job.completed_at = now
    job.updated_at = now  # a removal changes the job's state: stale offline copies must conflict
    if data.reason in ENDING_REASONS:
        order.status = OrderStatus.ENDED.value
        order.ended_at = data.removed_at
        order.end_outcome = data.outcome or data.reason.value
    order.updated_at = now
    await ctx.flush("job or device")
    if data.reason in REINSTALL_REASONS and not await _has_open_job(ctx, order.id, JobKind.FITTING):
        # Something still has to be worn: the re-fit visit is created here, not re-keyed by anyone.
        version = await ctx.session.get_one(OrderVersion, job.order_version_id)
        await create_job(ctx, order, version, await submitted_content(ctx.session, order), JobKind.FITTING)
    await ctx.audit(
        "removal.record",
        "job",
        job.id,
        details={"removal_id": str(removal.id), "order_id": str(order.id), "reason": data.reason.value},
    )
    return RemovalOut(
        id=removal.id,
        job_id=job.id,
        job_version=job.version,
        order_id=order.id,
        order_status=order.status,
        reason=removal.reason,
        devices=outcomes,
    )


async def record_failed_visit(ctx: Ctx, job_id: uuid.UUID, data: FailedVisitIn) -> FailedVisitOut:
    """A visit that did not happen as planned; the job stays open to be re-booked."""
    if data.outcome not in FAILED_OUTCOMES:
        raise ValidationFailed(
            "Not a failed outcome",
            errors=[{"field": "outcome", "message": "record a completed visit as a fitting or removal"}],
        )
    job = await visible_job(ctx, job_id)
    check_version(job.version, data.version, "job", job_state(job))
    _open_job(job)
    _not_in_future(data.visited_at, "visited_at")
    visit = Visit(
        job_id=job.id,
        officer_id=ctx.actor.id,
        outcome=data.outcome.value,
        notes=data.notes,
        visited_at=data.visited_at,
        location=msgspec.to_builtins(data.location) if data.location else None,
    )
    ctx.session.add(visit)
    job.updated_at = utcnow()
    await ctx.flush("job")
    await ctx.audit("visit.failed", "job", job.id, details={"visit_id": str(visit.id), "outcome": data.outcome.value})
    return FailedVisitOut(
        id=visit.id, job_id=job.id, job_version=job.version, job_status=job.status, outcome=visit.outcome
    )
