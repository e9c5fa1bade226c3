"""Order intake: drafts, validation, submission (which creates the visit job), variations; wearer records and their
protected characteristics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select

from core.clock import utcnow
from core.errors import Conflict, PermissionDenied, ValidationFailed
from fieldwork import geometry
from fieldwork.models import Order, OrderVersion, ProtectedCharacteristics, VisitJob, Wearer
from fieldwork.postcodes import normalise_postcode
from fieldwork.schemas import (
    Alcohol,
    Attendance,
    CheckinSchedule,
    Circle,
    Curfew,
    DraftUpdate,
    OrderContent,
    OrderIn,
    OrderOut,
    OrderSummary,
    Page,
    ProtectedIn,
    ProtectedOut,
    Trail,
    VariationIn,
    VersionSummary,
    WearerIn,
    WearerOut,
    Zone,
)
from fieldwork.service import (
    Ctx,
    check_version,
    decode_content,
    orders_visible_to,
    version_of,
    visible_order,
    visible_wearer,
    wearers_visible_to,
)
from fieldwork.vocab import (
    AddressType,
    DeviceWearing,
    Ethnicity,
    JobKind,
    JobStatus,
    OrderStatus,
    OrderType,
    RequestType,
    VersionStatus,
    ethnic_group,
)
from security.actor import Role
from security.models import StaffUser, Team

MAX_CHECKINS_PER_DAY = 5
WEARER_FIELDS = [f for f in WearerIn.__struct_fields__]
Problems = list[dict[str, str]]


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


# ---- validation --------------------------------------------------------------------------------------------------


def format_problems(content: OrderContent, date_of_birth: date | None, today: date) -> Problems:
    """Values that are wrong whatever the stage (a draft may be incomplete, never wrong). Normalises postcodes."""
    problems: Problems = []
    for i, address in enumerate(content.addresses):
        normal = normalise_postcode(address.postcode)
        if normal is None:
            problems.append(_problem(f"addresses[{i}].postcode", "not a full UK postcode"))
        else:
            address.postcode = normal
    primaries = [a for a in content.addresses if a.type is AddressType.PRIMARY]
    if len(primaries) > 1:
        problems.append(_problem("addresses", "at most one PRIMARY address"))
    if date_of_birth is not None and date_of_birth >= today:
        problems.append(_problem("device_wearer.date_of_birth", "must be in the past"))
    if content.start_date and content.end_date and content.end_date < content.start_date:
        problems.append(_problem("end_date", "must not be before start_date"))
    if content.appointment and content.appointment.end <= content.appointment.start:
        problems.append(_problem("appointment.end", "must be after the start"))
    for i, condition in enumerate(content.conditions):
        path = f"conditions[{i}]"
        if condition.start_date and condition.end_date and condition.end_date < condition.start_date:
            problems.append(_problem(f"{path}.end_date", "must not be before start_date"))
        if isinstance(condition, Zone) and condition.geometry is not None:
            shape = condition.geometry
            found = (
                geometry.circle_problems(shape.centre[0], shape.centre[1], shape.radius_m)
                if isinstance(shape, Circle)
                else geometry.polygon_problems(shape.coordinates)
            )
            problems.extend(_problem(f"{path}.geometry", message) for message in found)
        elif isinstance(condition, CheckinSchedule):
            per_day: dict[str, int] = {}
            for j, window in enumerate(condition.windows):
                if window.end <= window.start:
                    problems.append(_problem(f"{path}.windows[{j}].end", "must be after the start"))
                per_day[window.day] = per_day.get(window.day, 0) + 1
            for day, count in sorted(per_day.items()):
                if count > MAX_CHECKINS_PER_DAY:
                    problems.append(
                        _problem(f"{path}.windows", f"{count} windows on {day}; at most {MAX_CHECKINS_PER_DAY} a day")
                    )
        elif isinstance(condition, Curfew):
            for j, entry in enumerate(condition.timetable):
                if entry.end == entry.start:  # a curfew may run past midnight, so only equal times are wrong
                    problems.append(_problem(f"{path}.timetable[{j}].end", "must differ from the start"))
        elif isinstance(condition, Attendance):
            if condition.postcode is not None:
                normal = normalise_postcode(condition.postcode)
                if normal is None:
                    problems.append(_problem(f"{path}.postcode", "not a full UK postcode"))
                else:
                    condition.postcode = normal
            if condition.start and condition.end and condition.end <= condition.start:
                problems.append(_problem(f"{path}.end", "must be after the start"))
    return problems


def _age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def condition_problems(i: int, condition: Any, order_type: OrderType | None) -> Problems:
    path = f"conditions[{i}]"
    missing: list[str] = []
    if isinstance(condition, Curfew) and not condition.timetable:
        missing.append("timetable")
    elif isinstance(condition, Zone):
        missing += [name for name in ("zone_type", "geometry") if getattr(condition, name) is None]
    elif isinstance(condition, Trail) and condition.device is None:
        missing.append("device")
    elif isinstance(condition, Alcohol) and condition.monitoring is None:
        missing.append("monitoring")
    elif isinstance(condition, Attendance):
        missing += [name for name in ("place", "day", "start", "end") if getattr(condition, name) is None]
    elif isinstance(condition, CheckinSchedule) and not condition.windows:
        missing.append("windows")
    problems = [_problem(f"{path}.{name}", "required") for name in missing]
    if (
        isinstance(condition, Trail | Zone)
        and condition.device is DeviceWearing.NON_FITTED
        and order_type not in (None, OrderType.IMMIGRATION)
    ):
        problems.append(_problem(f"{path}.device", "non-fitted devices are for IMMIGRATION orders only"))
    return problems


def completeness_problems(content: OrderContent, wearer: Wearer, today: date) -> Problems:
    """Everything a submission still lacks, each with its field path (the domain's submission rules)."""
    problems: Problems = []
    for name in ("first_name", "last_name", "date_of_birth", "sex", "gender"):
        if getattr(wearer, name) in (None, ""):
            problems.append(_problem(f"device_wearer.{name}", "required"))
    if not any((wearer.nomis_id, wearer.pnc_id, wearer.crn, wearer.prison_number, wearer.home_office_ref)):
        problems.append(
            _problem(
                "device_wearer.identifiers", "at least one of nomis_id, pnc_id, crn, prison_number, home_office_ref"
            )
        )
    if content.order_type is None:
        problems.append(_problem("order_type", "required"))
    if content.start_date is None:
        problems.append(_problem("start_date", "required"))
    if wearer.date_of_birth is not None and _age_on(wearer.date_of_birth, content.start_date or today) < 18:
        adult = wearer.responsible_adult or {}
        if not adult.get("full_name") or not adult.get("phone"):
            problems.append(
                _problem("device_wearer.responsible_adult", "the wearer is under 18: a responsible adult is required")
            )
    if not wearer.no_fixed_abode and not any(a.type is AddressType.PRIMARY for a in content.addresses):
        problems.append(_problem("addresses", "a PRIMARY address is required unless the wearer has no fixed abode"))
    if not content.conditions:
        problems.append(_problem("conditions", "at least one monitoring condition is required"))
    for i, condition in enumerate(content.conditions):
        problems.extend(condition_problems(i, condition, content.order_type))
    if content.notifying_organisation is None or not content.notifying_organisation.name:
        problems.append(_problem("notifying_organisation.name", "required"))
    if needs_fitting(content):
        if not content.region:
            problems.append(_problem("region", "required to allocate the fitting visit to a field team"))
        if installation_address(content) is None:
            problems.append(_problem("addresses", "an INSTALLATION or PRIMARY address is needed for the fitting visit"))
    return problems


def needs_fitting(content: OrderContent) -> bool:
    """Whether the order needs a visit to fit a tag or issue a watch (everything except attendance alone)."""
    return any(not isinstance(c, Attendance) for c in content.conditions)


def required_equipment(content: OrderContent) -> list[list[str]]:
    """What must be fitted: each entry lists the device types that satisfy it."""
    needs: list[list[str]] = []

    def need(*types: str) -> None:
        if list(types) not in needs:
            needs.append(list(types))

    for c in content.conditions:
        if isinstance(c, Curfew):
            need("RF_TAG", "GPS_TAG")
            need("HMU")
        elif isinstance(c, Trail | Zone):
            need("GPS_TAG") if c.device is DeviceWearing.FITTED else need("SMARTWATCH")
        elif isinstance(c, Alcohol):
            need("ALCOHOL_TAG")
        elif isinstance(c, CheckinSchedule):
            need("SMARTWATCH")
    return needs


def installation_address(content: OrderContent) -> dict[str, Any] | None:
    for kind in (AddressType.INSTALLATION, AddressType.PRIMARY):
        for address in content.addresses:
            if address.type is kind:
                return msgspec.to_builtins(address)
    return None


# ---- views -------------------------------------------------------------------------------------------------------


def wearer_out(wearer: Wearer) -> WearerOut:
    return WearerOut(**{name: getattr(wearer, name) for name in WearerOut.__struct_fields__})


async def order_out(ctx: Ctx, order: Order) -> OrderOut:
    wearer = await ctx.session.get_one(Wearer, order.wearer_id)
    versions = (
        (await ctx.session.execute(select(OrderVersion).where(OrderVersion.order_id == order.id).order_by("number")))
        .scalars()
        .all()
    )
    current = next(v for v in versions if v.number == order.current_number)
    jobs = (await ctx.session.execute(select(VisitJob.id).where(VisitJob.order_id == order.id))).scalars().all()
    return OrderOut(
        id=order.id,
        version=order.version,
        status=order.status,
        order_type=order.order_type,
        wearer=wearer_out(wearer),
        current_version=order.current_number,
        content=decode_content(current.content),
        versions=[
            VersionSummary(number=v.number, request_type=v.request_type, status=v.status, submitted_at=v.submitted_at)
            for v in versions
        ],
        jobs=list(jobs),
        activated_at=order.activated_at,
        ended_at=order.ended_at,
        end_outcome=order.end_outcome,
    )


# ---- drafts ------------------------------------------------------------------------------------------------------


def _split(data: OrderIn) -> tuple[OrderContent, WearerIn | None]:
    raw = msgspec.to_builtins(data)
    for name in ("device_wearer", "wearer_id", "caseworker_id"):
        raw.pop(name, None)
    return msgspec.convert(raw, OrderContent), data.device_wearer


def _apply_wearer(wearer: Wearer, data: WearerIn) -> None:
    for name in WEARER_FIELDS:
        value = getattr(data, name)
        setattr(wearer, name, msgspec.to_builtins(value) if name == "responsible_adult" else value)


async def _resolve_caseworker(ctx: Ctx, requested: uuid.UUID | None) -> uuid.UUID | None:
    if ctx.actor.role is Role.CASEWORKER:
        return ctx.actor.id  # a caseworker's intake joins their own caseload
    if requested is None:
        return None
    staff = await ctx.session.get(StaffUser, requested)
    if staff is None or staff.role != Role.CASEWORKER.value:
        raise ValidationFailed("Invalid caseworker", errors=[_problem("caseworker_id", "not a caseworker")])
    return requested


async def create_draft(ctx: Ctx, data: OrderIn) -> OrderOut:
    content, wearer_in = _split(data)
    problems = format_problems(content, wearer_in.date_of_birth if wearer_in else None, utcnow().date())
    if problems:
        raise ValidationFailed("The order has invalid values", errors=problems)
    caseworker_id = await _resolve_caseworker(ctx, data.caseworker_id)
    if data.wearer_id is not None:
        wearer = await visible_wearer(ctx, data.wearer_id)
        if wearer_in is not None:
            _apply_wearer(wearer, wearer_in)
    else:
        wearer = Wearer(aliases=[], disabilities=[], interpreter_required=False, no_fixed_abode=False)
        _apply_wearer(wearer, wearer_in or WearerIn())
        ctx.session.add(wearer)
    if caseworker_id is not None:
        wearer.caseworker_id = caseworker_id
    await ctx.flush("wearer")
    order = Order(
        wearer_id=wearer.id,
        status=OrderStatus.DRAFT.value,
        order_type=content.order_type,
        current_number=1,
        created_by=ctx.actor.id,
    )
    ctx.session.add(order)
    await ctx.session.flush()
    ctx.session.add(
        OrderVersion(
            order_id=order.id,
            number=1,
            request_type=content.request_type.value,
            status=VersionStatus.DRAFT.value,
            content=msgspec.to_builtins(content),
            created_by=ctx.actor.id,
        )
    )
    await ctx.flush("order")
    await ctx.audit("order.create", "order", order.id, details={"wearer_id": str(wearer.id)})
    return await order_out(ctx, order)


async def _draft_version(ctx: Ctx, order: Order) -> OrderVersion:
    version = await version_of(ctx.session, order)
    if version.status != VersionStatus.DRAFT.value:
        raise Conflict(
            f"version {version.number} of this order was submitted and cannot change; create a variation",
            code="version-immutable",
        )
    return version


def _order_state(order: Order) -> dict[str, Any]:
    return {"id": str(order.id), "version": order.version, "status": order.status, "current": order.current_number}


async def update_draft(ctx: Ctx, order_id: uuid.UUID, data: DraftUpdate) -> OrderOut:
    order = await visible_order(ctx, order_id)
    check_version(order.version, data.version, "order", _order_state(order))
    version = await _draft_version(ctx, order)
    content, wearer_in = _split(data.order)
    problems = format_problems(content, wearer_in.date_of_birth if wearer_in else None, utcnow().date())
    if problems:
        raise ValidationFailed("The order has invalid values", errors=problems)
    if wearer_in is not None:
        _apply_wearer(await ctx.session.get_one(Wearer, order.wearer_id), wearer_in)
    if ctx.actor.role is not Role.CASEWORKER and data.order.caseworker_id is not None:
        wearer = await ctx.session.get_one(Wearer, order.wearer_id)
        wearer.caseworker_id = await _resolve_caseworker(ctx, data.order.caseworker_id)
    version.content = msgspec.to_builtins(content)
    version.request_type = content.request_type.value
    order.order_type = content.order_type
    order.updated_at = utcnow()
    await ctx.flush("order")
    await ctx.audit("order.update", "order", order.id, details={"version": version.number})
    return await order_out(ctx, order)


async def _team_for_region(ctx: Ctx, region: str | None) -> Team | None:
    if not region:
        return None
    statement = select(Team).where(func.lower(Team.region) == region.lower()).order_by(Team.name).limit(1)
    return (await ctx.session.execute(statement)).scalar_one_or_none()


def default_appointment(ctx: Ctx, content: OrderContent) -> tuple[datetime, datetime]:
    if content.appointment is not None:
        return content.appointment.start, content.appointment.end
    now = utcnow()
    start = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if content.start_date is not None:
        start = max(start, datetime.combine(content.start_date, time(9, 0), tzinfo=UTC))
    return start, start + timedelta(hours=ctx.settings.fieldwork.appointment_hours)


async def create_job(ctx: Ctx, order: Order, version: OrderVersion, content: OrderContent, kind: JobKind) -> VisitJob:
    """A visit job for the order, allocated to the team covering its region: nobody re-keys the order."""
    team = await _team_for_region(ctx, content.region)
    start, end = default_appointment(ctx, content)
    job = VisitJob(
        order_id=order.id,
        order_version_id=version.id,
        wearer_id=order.wearer_id,
        kind=kind.value,
        status=JobStatus.OPEN.value,
        team_id=team.id if team else order.team_id,
        appointment_start=start,
        appointment_end=end,
        address=installation_address(content),
    )
    ctx.session.add(job)
    await ctx.session.flush()
    await ctx.audit("job.create", "job", job.id, details={"order_id": str(order.id), "kind": kind.value})
    return job


FITTING_REQUESTS = {RequestType.REQUEST, RequestType.REINSTALL_DEVICE, RequestType.REINSTALL_AT_DIFFERENT_ADDRESS}
ENDING_REQUESTS = {RequestType.REVOCATION, RequestType.END_MONITORING}


async def submit(ctx: Ctx, order_id: uuid.UUID, based_on: int) -> OrderOut:
    order = await visible_order(ctx, order_id)
    check_version(order.version, based_on, "order", _order_state(order))
    version = await _draft_version(ctx, order)
    content = decode_content(version.content)
    wearer = await ctx.session.get_one(Wearer, order.wearer_id)
    today = utcnow().date()
    problems = format_problems(content, wearer.date_of_birth, today) + completeness_problems(content, wearer, today)
    team = await _team_for_region(ctx, content.region)
    if content.region and team is None and needs_fitting(content):
        problems.append(_problem("region", f"no field team covers region {content.region!r}"))
    if problems:
        await ctx.audit("order.submit", "order", order.id, outcome="refused", details={"missing": len(problems)})
        raise ValidationFailed("The order is not complete", errors=problems)
    now = utcnow()
    earlier = await ctx.session.execute(
        select(OrderVersion).where(
            OrderVersion.order_id == order.id, OrderVersion.status == VersionStatus.SUBMITTED.value
        )
    )
    for previous in earlier.scalars():
        previous.status = VersionStatus.SUPERSEDED.value
    version.status = VersionStatus.SUBMITTED.value
    version.submitted_at = now
    version.submitted_by = ctx.actor.id
    request = content.request_type
    if order.status == OrderStatus.DRAFT.value:
        order.status = OrderStatus.SUBMITTED.value
    order.order_type = content.order_type
    if team is not None:
        order.team_id = team.id
        wearer.team_id = team.id
    order.updated_at = now
    await ctx.flush("order")
    if request in FITTING_REQUESTS and needs_fitting(content):
        await create_job(ctx, order, version, content, JobKind.FITTING)
    elif request in ENDING_REQUESTS and order.status == OrderStatus.ACTIVE.value:
        await create_job(ctx, order, version, content, JobKind.REMOVAL)
    await ctx.audit("order.submit", "order", order.id, details={"version": version.number, "request": request.value})
    return await order_out(ctx, order)


async def start_variation(ctx: Ctx, order_id: uuid.UUID, data: VariationIn) -> OrderOut:
    """A new draft version copied from the current one; the submitted version stays as it was."""
    order = await visible_order(ctx, order_id)
    check_version(order.version, data.version, "order", _order_state(order))
    current = await version_of(ctx.session, order)
    if current.status == VersionStatus.DRAFT.value:
        raise Conflict("the order already has a draft version; change or submit that", code="draft-exists")
    if order.status not in (OrderStatus.SUBMITTED.value, OrderStatus.ACTIVE.value):
        raise Conflict(f"an order that is {order.status} cannot be varied", code="order-closed")
    content = dict(current.content)
    content["request_type"] = data.request_type.value
    order.current_number += 1
    ctx.session.add(
        OrderVersion(
            order_id=order.id,
            number=order.current_number,
            request_type=data.request_type.value,
            status=VersionStatus.DRAFT.value,
            content=content,
            created_by=ctx.actor.id,
        )
    )
    await ctx.flush("order")
    await ctx.audit("order.variation", "order", order.id, details={"version": order.current_number})
    return await order_out(ctx, order)


async def cancel(ctx: Ctx, order_id: uuid.UUID, based_on: int, reason: str | None) -> OrderOut:
    """Cancel an order before anything is fitted; its open jobs are cancelled with it."""
    order = await visible_order(ctx, order_id)
    check_version(order.version, based_on, "order", _order_state(order))
    if order.status not in (OrderStatus.DRAFT.value, OrderStatus.SUBMITTED.value):
        raise Conflict(
            f"an order that is {order.status} cannot be cancelled; end it with a removal", code="order-not-cancellable"
        )
    now = utcnow()
    order.status = OrderStatus.CANCELLED.value
    order.ended_at = now
    order.end_outcome = reason or "CANCELLED"
    jobs = await ctx.session.execute(
        select(VisitJob).where(VisitJob.order_id == order.id, VisitJob.status == JobStatus.OPEN.value)
    )
    for job in jobs.scalars():
        job.status = JobStatus.CANCELLED.value
        job.completed_at = now
    await ctx.flush("order")
    await ctx.audit("order.cancel", "order", order.id)
    return await order_out(ctx, order)


async def read_order(ctx: Ctx, order_id: uuid.UUID) -> OrderOut:
    order = await visible_order(ctx, order_id)
    await ctx.audit("order.read", "order", order.id)
    return await order_out(ctx, order)


async def list_orders(ctx: Ctx, status: OrderStatus | None, limit: int, offset: int) -> Page:
    statement = orders_visible_to(ctx.actor)
    if status is not None:
        statement = statement.where(Order.status == status.value)
    total = (await ctx.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = await ctx.session.execute(
        statement.add_columns(Wearer.first_name, Wearer.last_name)
        .join(Wearer, Wearer.id == Order.wearer_id)
        .order_by(Order.updated_at.desc(), Order.id)
        .limit(limit)
        .offset(offset)
    )
    items = [
        OrderSummary(
            id=o.id,
            version=o.version,
            status=o.status,
            order_type=o.order_type,
            wearer_id=o.wearer_id,
            wearer_name=" ".join(p for p in (first, last) if p),
            current_version=o.current_number,
            updated_at=o.updated_at,
        )
        for o, first, last in rows
    ]
    await ctx.audit("order.list", "order", None, details={"count": len(items)})
    return Page(items=items, total=total, limit=limit, offset=offset)


# ---- wearers -----------------------------------------------------------------------------------------------------


async def read_wearer(ctx: Ctx, wearer_id: uuid.UUID) -> WearerOut:
    wearer = await visible_wearer(ctx, wearer_id)
    await ctx.audit("wearer.read", "wearer", wearer.id)
    return wearer_out(wearer)


async def list_wearers(ctx: Ctx, limit: int, offset: int) -> Page:
    statement = wearers_visible_to(ctx.actor)
    total = (await ctx.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = await ctx.session.execute(statement.order_by(Wearer.last_name, Wearer.id).limit(limit).offset(offset))
    items = [wearer_out(w) for w in rows.scalars()]
    await ctx.audit("wearer.list", "wearer", None, details={"count": len(items)})
    return Page(items=items, total=total, limit=limit, offset=offset)


# ---- protected characteristics: restricted, every read audited ----------------------------------------------------

PROTECTED_READERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


def _protected_out(row: ProtectedCharacteristics) -> ProtectedOut:
    return ProtectedOut(
        wearer_id=row.wearer_id,
        version=row.version,
        declared=True,
        ethnicity=row.ethnicity,
        ethnic_group=ethnic_group(Ethnicity(row.ethnicity)).value if row.ethnicity else None,
        nationality=row.nationality,
        religion=row.religion,
        disability=row.disability,
        updated_at=row.updated_at,
    )


async def read_protected(ctx: Ctx, wearer_id: uuid.UUID) -> ProtectedOut:
    if ctx.actor.role not in PROTECTED_READERS:
        raise PermissionDenied("protected characteristics are restricted")
    wearer = await visible_wearer(ctx, wearer_id)
    row = await ctx.session.get(ProtectedCharacteristics, wearer.id)
    await ctx.audit("wearer.protected.read", "wearer", wearer.id, outcome="success" if row else "none-declared")
    if row is None:  # an answer, not an error: the audit entry of this read must be committed too
        return ProtectedOut(
            wearer_id=wearer.id,
            version=0,
            declared=False,
            ethnicity=None,
            ethnic_group=None,
            nationality=None,
            religion=None,
            disability=None,
            updated_at=None,
        )
    return _protected_out(row)


async def declare_protected(ctx: Ctx, wearer_id: uuid.UUID, data: ProtectedIn) -> int:
    """Record the wearer's self-declaration. Intake staff may write it; only supervisors and admins read it back."""
    wearer = await visible_wearer(ctx, wearer_id)
    row = await ctx.session.get(ProtectedCharacteristics, wearer.id)
    if row is None:
        row = ProtectedCharacteristics(wearer_id=wearer.id)
        ctx.session.add(row)
    else:
        check_version(row.version, data.version or 0, "declaration", {"version": row.version})
    row.ethnicity = data.ethnicity.value if data.ethnicity else None
    row.nationality = data.nationality
    row.religion = data.religion.value if data.religion else None
    row.disability = data.disability.value if data.disability else None
    row.recorded_by = ctx.actor.id
    row.updated_at = utcnow()
    await ctx.flush("declaration")
    await ctx.audit("wearer.protected.write", "wearer", wearer.id)
    return row.version
