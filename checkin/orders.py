"""What check-ins need from an order: whether it is active and non-fitted, its check-in windows and its zones.

Reads the submitted order version's content (the field work package's JSON document: conditions tagged by
``type``: ``CHECKIN_SCHEDULE`` with ``windows`` of ``{day, start, end}``, ``ZONE`` with ``zone_type`` and a
``geometry`` of kind ``POLYGON`` (``coordinates`` ``[[lon, lat], ...]``) or ``CIRCLE`` (``centre`` ``[lon, lat]``,
``radius_m``); each with optional ``start_date``/``end_date``). Point-in-zone tests are ``fieldwork.geometry``'s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fieldwork import geometry
from fieldwork.models import Order, OrderVersion
from fieldwork.vocab import WEEKDAYS, DeviceWearing, OrderStatus, VersionStatus, ZoneType

MAX_WINDOWS_PER_DAY = 5


@dataclass(frozen=True)
class ActiveOrder:
    order_id: uuid.UUID
    wearer_id: uuid.UUID
    ended_at: Any
    content: dict[str, Any]


@dataclass(frozen=True)
class Window:
    day: str
    start: time
    end: time

    @property
    def key(self) -> str:
        return f"{self.day}-{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Breach:
    reason: str
    zone_type: str
    description: str | None


async def active_order(session: AsyncSession, wearer_id: uuid.UUID) -> ActiveOrder | None:
    """The wearer's ACTIVE order with the content of its latest submitted version (unscoped: callers scope)."""
    row = (
        await session.execute(
            select(Order, OrderVersion.content)
            .join(OrderVersion, OrderVersion.order_id == Order.id)
            .where(
                Order.wearer_id == wearer_id,
                Order.status == OrderStatus.ACTIVE.value,
                OrderVersion.status == VersionStatus.SUBMITTED.value,
            )
            .order_by(Order.activated_at.desc(), OrderVersion.number.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    order, content = row
    return ActiveOrder(order_id=order.id, wearer_id=wearer_id, ended_at=order.ended_at, content=content or {})


def _conditions(content: dict[str, Any], kind: str, on: date | None) -> list[dict[str, Any]]:
    found = []
    for condition in content.get("conditions") or []:
        if not isinstance(condition, dict) or condition.get("type") != kind:
            continue
        if on is not None:
            start = condition.get("start_date") or content.get("start_date")
            end = condition.get("end_date") or content.get("end_date")
            if (start and date.fromisoformat(str(start)) > on) or (end and date.fromisoformat(str(end)) < on):
                continue
        found.append(condition)
    return found


def is_non_fitted(content: dict[str, Any]) -> bool:
    """A smartwatch order: a check-in schedule, or a trail or zone with a NON_FITTED device."""
    for condition in content.get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        if condition.get("type") == "CHECKIN_SCHEDULE":
            return True
        if condition.get("type") in {"TRAIL", "ZONE"} and condition.get("device") == DeviceWearing.NON_FITTED.value:
            return True
    return False


def windows_on(content: dict[str, Any], on: date) -> list[Window]:
    """The check-in windows that apply on a date (its weekday), at most five, earliest first."""
    day = WEEKDAYS[on.weekday()].value
    found: dict[str, Window] = {}
    for condition in _conditions(content, "CHECKIN_SCHEDULE", on):
        for item in condition.get("windows") or []:
            if item.get("day") != day:
                continue
            window = Window(day=day, start=time.fromisoformat(item["start"]), end=time.fromisoformat(item["end"]))
            if window.end > window.start:
                found[window.key] = window
    return sorted(found.values(), key=lambda w: w.start)[:MAX_WINDOWS_PER_DAY]


def _inside(geometry_: dict[str, Any], lon: float, lat: float) -> bool:
    kind = geometry_.get("kind")
    if kind == "CIRCLE":
        centre = geometry_["centre"]
        return geometry.point_in_circle(lon, lat, centre[0], centre[1], float(geometry_["radius_m"]))
    if kind == "POLYGON":
        return geometry.point_in_polygon(lon, lat, geometry_["coordinates"])
    return False


def zone_breaches(content: dict[str, Any], lon: float, lat: float, on: date) -> tuple[int, list[Breach]]:
    """How many zones were checked, and those the fix breaks (inside an exclusion, outside an inclusion)."""
    zones = [z for z in _conditions(content, "ZONE", on) if isinstance(z.get("geometry"), dict)]
    breaches: list[Breach] = []
    for zone in zones:
        inside = _inside(zone["geometry"], lon, lat)
        if zone.get("zone_type") == ZoneType.EXCLUSION.value and inside:
            breaches.append(Breach("LOCATION_EXCLUSION_ZONE", ZoneType.EXCLUSION.value, zone.get("description")))
        elif zone.get("zone_type") == ZoneType.INCLUSION.value and not inside:
            breaches.append(
                Breach("LOCATION_OUTSIDE_INCLUSION_ZONE", ZoneType.INCLUSION.value, zone.get("description"))
            )
    return len(zones), breaches
