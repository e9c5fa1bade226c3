"""Field work rules shared by every workflow, and the functions other packages call.

Scoping: every read of personal data goes through one ``*_visible_to(actor)`` statement per entity, so no query can
forget the caller's caseload or allocation. A record outside the caller's scope is simply not found (404).

- field officer: jobs allocated to them or to their team (and the wearers/orders of those jobs); their team's stock;
- caseworker: wearers whose ``caseworker_id`` is theirs, and those wearers' orders and jobs;
- supervisor, admin: everything.

For the check-in package: :func:`active_order_for_wearer`, :func:`checkin_windows`, :func:`zones`,
:func:`zone_contains` and :func:`zone_breaches` (with :mod:`fieldwork.geometry` underneath).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import Select, false, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from core.errors import Conflict, NotFound
from core.settings import Settings
from fieldwork import geometry
from fieldwork.models import Device, Order, OrderVersion, VisitJob, Wearer
from fieldwork.schemas import CheckinSchedule, CheckinWindow, Circle, Condition, OrderContent, Trail, Zone
from fieldwork.vocab import DeviceWearing, OrderStatus, VersionStatus, ZoneType
from security.actor import Actor, Role
from security.audit import record

ALL_SEEING = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Ctx:
    """Who is acting, in which transaction, under which settings. Services never commit."""

    session: AsyncSession
    actor: Actor
    settings: Settings

    async def audit(
        self,
        action: str,
        resource_type: str,
        resource_id: uuid.UUID | str | None,
        *,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
    ) -> None:
        await record(
            self.session,
            self.actor,
            action,
            resource_type,
            resource_id,
            outcome=outcome,
            details=details,
            key=self.settings.security.audit_hmac_key.encode(),
        )

    async def flush(self, what: str = "record") -> None:
        """Write pending changes; a row changed by someone else meanwhile is a conflict, never overwritten."""
        try:
            await self.session.flush()
        except StaleDataError:
            raise Conflict(f"the {what} was changed by someone else; reload and try again", code="stale") from None
        except IntegrityError:  # a uniqueness the database enforces, reached by a concurrent writer first
            raise Conflict(f"the {what} conflicts with another record written meanwhile", code="integrity") from None


def check_version(record_version: int, based_on: int, what: str, current: dict[str, Any]) -> None:
    if record_version != based_on:
        raise Conflict(
            f"the {what} is at version {record_version}, not {based_on}: it changed since you read it",
            code="stale-version",
            current=current,
        )


# ---- scoping: one statement per entity ------------------------------------------------------------------------------


def _job_allocated_to(actor: Actor) -> Any:
    mine = VisitJob.officer_id == actor.id
    if actor.team_id is not None:
        return or_(mine, VisitJob.team_id == actor.team_id)
    return mine


def _caseload(actor: Actor) -> Select[uuid.UUID]:
    return select(Wearer.id).where(Wearer.caseworker_id == actor.id)


def jobs_visible_to(actor: Actor) -> Select[VisitJob]:
    statement = select(VisitJob)
    if actor.role in ALL_SEEING:
        return statement
    if actor.role is Role.FIELD_OFFICER:
        return statement.where(_job_allocated_to(actor))
    if actor.role is Role.CASEWORKER:
        return statement.where(VisitJob.wearer_id.in_(_caseload(actor)))
    return statement.where(false())


def wearers_visible_to(actor: Actor) -> Select[Wearer]:
    statement = select(Wearer)
    if actor.role in ALL_SEEING:
        return statement
    if actor.role is Role.CASEWORKER:
        return statement.where(Wearer.caseworker_id == actor.id)
    if actor.role is Role.FIELD_OFFICER:
        return statement.where(Wearer.id.in_(select(VisitJob.wearer_id).where(_job_allocated_to(actor))))
    return statement.where(false())


def orders_visible_to(actor: Actor) -> Select[Order]:
    statement = select(Order)
    if actor.role in ALL_SEEING:
        return statement
    if actor.role is Role.CASEWORKER:
        return statement.where(Order.wearer_id.in_(_caseload(actor)))
    if actor.role is Role.FIELD_OFFICER:
        return statement.where(Order.id.in_(select(VisitJob.order_id).where(_job_allocated_to(actor))))
    return statement.where(false())


def devices_visible_to(actor: Actor) -> Select[Device]:
    statement = select(Device)
    if actor.role in ALL_SEEING:
        return statement
    if actor.role is Role.FIELD_OFFICER:
        mine = Device.officer_id == actor.id
        if actor.team_id is not None:
            return statement.where(or_(mine, Device.team_id == actor.team_id))
        return statement.where(mine)
    return statement.where(false())


async def get_visible(session: AsyncSession, statement: Select[Any], what: str) -> Any:
    found = (await session.execute(statement)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no such {what}")
    return found


async def visible_job(ctx: Ctx, job_id: uuid.UUID) -> VisitJob:
    return await get_visible(ctx.session, jobs_visible_to(ctx.actor).where(VisitJob.id == job_id), "job")


async def visible_order(ctx: Ctx, order_id: uuid.UUID) -> Order:
    return await get_visible(ctx.session, orders_visible_to(ctx.actor).where(Order.id == order_id), "order")


async def visible_wearer(ctx: Ctx, wearer_id: uuid.UUID) -> Wearer:
    return await get_visible(ctx.session, wearers_visible_to(ctx.actor).where(Wearer.id == wearer_id), "wearer")


async def caseload_wearer_ids(session: AsyncSession, caseworker_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of a caseworker's wearers (their caseload)."""
    rows = await session.execute(select(Wearer.id).where(Wearer.caseworker_id == caseworker_id))
    return list(rows.scalars())


# ---- order content ---------------------------------------------------------------------------------------------------


def decode_content(raw: dict[str, Any]) -> OrderContent:
    return msgspec.convert(raw, OrderContent)


async def version_of(session: AsyncSession, order: Order, number: int | None = None) -> OrderVersion:
    statement = select(OrderVersion).where(
        OrderVersion.order_id == order.id, OrderVersion.number == (number or order.current_number)
    )
    return (await session.execute(statement)).scalar_one()


async def submitted_content(session: AsyncSession, order: Order) -> OrderContent:
    """The content of the latest submitted version (what the field works to), else the current draft."""
    statement = (
        select(OrderVersion)
        .where(OrderVersion.order_id == order.id, OrderVersion.status == VersionStatus.SUBMITTED.value)
        .order_by(OrderVersion.number.desc())
        .limit(1)
    )
    version = (await session.execute(statement)).scalar_one_or_none()
    return decode_content((version or await version_of(session, order)).content)


# ---- for the check-in package ---------------------------------------------------------------------------------------


class ActiveOrder(msgspec.Struct, frozen=True, kw_only=True):
    order_id: uuid.UUID
    wearer_id: uuid.UUID
    order_type: str | None
    version_number: int
    content: OrderContent


async def active_order_for_wearer(session: AsyncSession, wearer_id: uuid.UUID) -> ActiveOrder | None:
    """The wearer's ACTIVE order and the submitted version in force, or ``None``.

    Unscoped: the caller has already established that it may act for this wearer (e.g. the wearer's own watch).
    """
    order = (
        await session.execute(
            select(Order)
            .where(Order.wearer_id == wearer_id, Order.status == OrderStatus.ACTIVE.value)
            .order_by(Order.activated_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if order is None:
        return None
    statement = (
        select(OrderVersion)
        .where(OrderVersion.order_id == order.id, OrderVersion.status == VersionStatus.SUBMITTED.value)
        .order_by(OrderVersion.number.desc())
        .limit(1)
    )
    version = (await session.execute(statement)).scalar_one()
    return ActiveOrder(
        order_id=order.id,
        wearer_id=wearer_id,
        order_type=order.order_type,
        version_number=version.number,
        content=decode_content(version.content),
    )


def _content(order: ActiveOrder | OrderContent) -> OrderContent:
    return order.content if isinstance(order, ActiveOrder) else order


def _in_force(condition: Condition, content: OrderContent, on: date | None) -> bool:
    if on is None:
        return True
    start = condition.start_date or content.start_date
    end = condition.end_date or content.end_date
    return (start is None or start <= on) and (end is None or on <= end)


def checkin_windows(order: ActiveOrder | OrderContent, on: date | None = None) -> list[CheckinWindow]:
    """Every check-in window (day, start, end) of the order's check-in schedules; only those in force on ``on``."""
    content = _content(order)
    windows: list[CheckinWindow] = []
    for condition in content.conditions:
        if isinstance(condition, CheckinSchedule) and _in_force(condition, content, on):
            windows.extend(condition.windows)
    return sorted(windows, key=lambda w: (w.day.value, w.start))


def zones(order: ActiveOrder | OrderContent, on: date | None = None) -> list[Zone]:
    """The order's exclusion and inclusion zones (only those in force on ``on`` when given)."""
    content = _content(order)
    return [c for c in content.conditions if isinstance(c, Zone) and c.geometry and _in_force(c, content, on)]


def zone_contains(zone: Zone, lon: float, lat: float) -> bool:
    shape = zone.geometry
    if shape is None:
        return False
    if isinstance(shape, Circle):
        return geometry.point_in_circle(lon, lat, shape.centre[0], shape.centre[1], shape.radius_m)
    return geometry.point_in_polygon(lon, lat, shape.coordinates)


def zone_breaches(order: ActiveOrder | OrderContent, lon: float, lat: float, on: date | None = None) -> list[Zone]:
    """Zones a GPS fix breaks: inside an exclusion zone, or outside an inclusion zone."""
    broken = []
    for zone in zones(order, on):
        inside = zone_contains(zone, lon, lat)
        if (zone.zone_type is ZoneType.EXCLUSION and inside) or (zone.zone_type is ZoneType.INCLUSION and not inside):
            broken.append(zone)
    return broken


def uses_non_fitted_device(content: OrderContent) -> bool:
    return any(
        (isinstance(c, Trail | Zone) and c.device is DeviceWearing.NON_FITTED) or isinstance(c, CheckinSchedule)
        for c in content.conditions
    )


__all__ = [
    "ActiveOrder",
    "Ctx",
    "active_order_for_wearer",
    "caseload_wearer_ids",
    "check_version",
    "checkin_windows",
    "devices_visible_to",
    "jobs_visible_to",
    "orders_visible_to",
    "wearers_visible_to",
    "zone_breaches",
    "zone_contains",
    "zones",
]
