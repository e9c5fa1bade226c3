"""Request and response shapes (msgspec). ORM models never leave the service; no field a role may not see."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from fieldwork.vocab import (
    AddressType,
    AlcoholMonitoring,
    DeviceCondition,
    DeviceType,
    DeviceWearing,
    DisabilityDeclaration,
    Ethnicity,
    Gender,
    MappaCategory,
    MappaLevel,
    OrderType,
    Placement,
    Religion,
    RemovalReason,
    RequestType,
    Safeguarding,
    Sex,
    VisitOutcome,
    Weekday,
    ZoneType,
)

Short = Annotated[str, Meta(max_length=100)]
Medium = Annotated[str, Meta(max_length=300)]
Long = Annotated[str, Meta(max_length=4000)]
Ident = Annotated[str, Meta(max_length=40, pattern=r"^[A-Za-z0-9/\-]+$")]
Sha256 = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


class Input(Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body: unknown fields are refused, not silently dropped."""


# ---- intake --------------------------------------------------------------------------------------------------------


class ResponsibleAdult(Input, kw_only=True):
    full_name: Short | None = None
    relationship: Short | None = None
    phone: Annotated[str, Meta(max_length=30)] | None = None


class WearerIn(Input, kw_only=True):
    nomis_id: Ident | None = None
    pnc_id: Ident | None = None
    crn: Ident | None = None
    prison_number: Ident | None = None
    home_office_ref: Ident | None = None
    first_name: Short | None = None
    middle_names: Medium | None = None
    last_name: Short | None = None
    aliases: Annotated[list[Short], Meta(max_length=20)] = []
    date_of_birth: date | None = None
    sex: Sex | None = None
    gender: Gender | None = None
    gender_self_description: Short | None = None
    disabilities: Annotated[list[Short], Meta(max_length=20)] = []
    language: Short | None = None
    interpreter_required: bool = False
    no_fixed_abode: bool = False
    responsible_adult: ResponsibleAdult | None = None


class AddressIn(Input, kw_only=True):
    type: AddressType
    line1: Medium
    line2: Medium | None = None
    town: Short | None = None
    postcode: Annotated[str, Meta(max_length=12)]


class TimetableEntry(Input, kw_only=True):
    day: Weekday
    start: time
    end: time
    address_type: AddressType = AddressType.PRIMARY


class Polygon(Input, kw_only=True, tag="POLYGON", tag_field="kind"):
    coordinates: Annotated[list[list[float]], Meta(max_length=2000)]


class Circle(Input, kw_only=True, tag="CIRCLE", tag_field="kind"):
    centre: Annotated[list[float], Meta(min_length=2, max_length=2)]  # [lon, lat]
    radius_m: float


class CheckinWindow(Input, kw_only=True):
    day: Weekday
    start: time
    end: time


class Curfew(Input, kw_only=True, tag="CURFEW", tag_field="type"):
    start_date: date | None = None
    end_date: date | None = None
    timetable: Annotated[list[TimetableEntry], Meta(max_length=70)] = []


class Zone(Input, kw_only=True, tag="ZONE", tag_field="type"):
    zone_type: ZoneType | None = None
    device: DeviceWearing = DeviceWearing.FITTED
    geometry: Polygon | Circle | None = None
    description: Medium | None = None
    start_date: date | None = None
    end_date: date | None = None


class Trail(Input, kw_only=True, tag="TRAIL", tag_field="type"):
    device: DeviceWearing | None = None
    start_date: date | None = None
    end_date: date | None = None


class Alcohol(Input, kw_only=True, tag="ALCOHOL", tag_field="type"):
    monitoring: AlcoholMonitoring | None = None
    start_date: date | None = None
    end_date: date | None = None


class Attendance(Input, kw_only=True, tag="MANDATORY_ATTENDANCE", tag_field="type"):
    place: Medium | None = None
    postcode: Annotated[str, Meta(max_length=12)] | None = None
    day: Weekday | None = None
    frequency: Short | None = None
    start: time | None = None
    end: time | None = None
    start_date: date | None = None
    end_date: date | None = None


class CheckinSchedule(Input, kw_only=True, tag="CHECKIN_SCHEDULE", tag_field="type"):
    windows: Annotated[list[CheckinWindow], Meta(max_length=35)] = []
    start_date: date | None = None
    end_date: date | None = None


Condition = Curfew | Zone | Trail | Alcohol | Attendance | CheckinSchedule


class RiskInformation(Input, kw_only=True):
    violence: bool = False
    sexual_offences: bool = False
    risk_to_gender: list[Gender] = []
    racial_abuse: bool = False
    substance_abuse: bool = False
    dangerous_dogs: bool = False
    safeguarding: list[Safeguarding] = []
    other_occupants: Medium | None = None
    under_18s_at_property: bool = False
    mappa_level: MappaLevel | None = None
    mappa_category: MappaCategory | None = None
    details: Long | None = None


class Organisation(Input, kw_only=True):
    name: Medium | None = None
    email: Medium | None = None
    phone: Annotated[str, Meta(max_length=30)] | None = None
    region: Short | None = None


class Appointment(Input, kw_only=True):
    start: datetime
    end: datetime


class OrderContent(Input, kw_only=True):
    """What an order version holds: everything of the order except the wearer (a person record of its own)."""

    order_type: OrderType | None = None
    request_type: RequestType = RequestType.REQUEST
    region: Short | None = None
    start_date: date | None = None
    end_date: date | None = None
    addresses: Annotated[list[AddressIn], Meta(max_length=10)] = []
    conditions: Annotated[list[Condition], Meta(max_length=30)] = []
    risk: RiskInformation | None = None
    notifying_organisation: Organisation | None = None
    responsible_organisation: Organisation | None = None
    appointment: Appointment | None = None


class OrderIn(OrderContent, kw_only=True):
    """An intake: a new draft order with its wearer (new, or an existing one by id) in one structured document."""

    device_wearer: WearerIn | None = None
    wearer_id: uuid.UUID | None = None
    caseworker_id: uuid.UUID | None = None


class DraftUpdate(Input, kw_only=True):
    version: int
    order: OrderIn


class VariationIn(Input, kw_only=True):
    version: int
    request_type: RequestType = RequestType.VARIATION


class VersionedAction(Input, kw_only=True):
    version: int


class CancelIn(Input, kw_only=True):
    version: int
    reason: Medium | None = None


# ---- order and wearer views --------------------------------------------------------------------------------------


class WearerOut(Struct, kw_only=True):
    id: uuid.UUID
    version: int
    caseworker_id: uuid.UUID | None
    team_id: uuid.UUID | None
    nomis_id: str | None
    pnc_id: str | None
    crn: str | None
    prison_number: str | None
    home_office_ref: str | None
    first_name: str | None
    middle_names: str | None
    last_name: str | None
    aliases: list[str]
    date_of_birth: date | None
    sex: str | None
    gender: str | None
    gender_self_description: str | None
    disabilities: list[str]
    language: str | None
    interpreter_required: bool
    no_fixed_abode: bool
    responsible_adult: dict[str, Any] | None


class VersionSummary(Struct, kw_only=True):
    number: int
    request_type: str
    status: str
    submitted_at: datetime | None


class OrderOut(Struct, kw_only=True):
    id: uuid.UUID
    version: int
    status: str
    order_type: str | None
    wearer: WearerOut
    current_version: int
    content: OrderContent
    versions: list[VersionSummary]
    jobs: list[uuid.UUID]
    activated_at: datetime | None
    ended_at: datetime | None
    end_outcome: str | None


class OrderSummary(Struct, kw_only=True):
    id: uuid.UUID
    version: int
    status: str
    order_type: str | None
    wearer_id: uuid.UUID
    wearer_name: str
    current_version: int
    updated_at: datetime


class Page(Struct, kw_only=True):
    items: list[Any]
    total: int
    limit: int
    offset: int


class ProtectedIn(Input, kw_only=True):
    version: int | None = None  # required when a declaration already exists
    ethnicity: Ethnicity | None = None
    nationality: Annotated[str, Meta(max_length=80)] | None = None
    religion: Religion | None = None
    disability: DisabilityDeclaration | None = None


class ProtectedOut(Struct, kw_only=True):
    wearer_id: uuid.UUID
    version: int
    declared: bool
    ethnicity: str | None
    ethnic_group: str | None
    nationality: str | None
    religion: str | None
    disability: str | None
    updated_at: datetime | None


# ---- jobs and visits ---------------------------------------------------------------------------------------------


class GeoPoint(Input, kw_only=True):
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    accuracy_m: Annotated[float, Meta(ge=0)] | None = None


class JobSummary(Struct, kw_only=True):
    id: uuid.UUID
    version: int
    kind: str
    status: str
    order_id: uuid.UUID
    team_id: uuid.UUID | None
    officer_id: uuid.UUID | None
    appointment_start: datetime
    appointment_end: datetime
    town: str | None
    postcode: str | None


class JobWearer(Struct, kw_only=True):
    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    date_of_birth: date | None
    sex: str | None
    gender: str | None
    language: str | None
    interpreter_required: bool
    disabilities: list[str]
    responsible_adult: dict[str, Any] | None


class VisitOut(Struct, kw_only=True):
    id: uuid.UUID
    outcome: str
    notes: str | None
    visited_at: datetime
    officer_id: uuid.UUID


class JobDetail(Struct, kw_only=True):
    id: uuid.UUID
    version: int
    kind: str
    status: str
    order_id: uuid.UUID
    order_status: str
    order_type: str | None
    team_id: uuid.UUID | None
    officer_id: uuid.UUID | None
    appointment_start: datetime
    appointment_end: datetime
    address: dict[str, Any] | None
    wearer: JobWearer
    risk: RiskInformation | None
    conditions: list[Condition]
    required_equipment: list[str]
    fitted_devices: list[str]
    visits: list[VisitOut]


class RebookIn(Input, kw_only=True):
    version: int
    appointment_start: datetime
    appointment_end: datetime


class AllocationIn(Input, kw_only=True):
    version: int
    officer_id: uuid.UUID


class FittedDeviceIn(Input, kw_only=True):
    serial: Annotated[str, Meta(min_length=1, max_length=64)]
    placement: Placement


class FittingIn(Input, kw_only=True):
    version: int  # the job version this fitting was based on
    devices: Annotated[list[FittedDeviceIn], Meta(min_length=1, max_length=5)]
    installed_at: datetime
    fit_check_passed: bool
    signal_check_passed: bool
    wearer_acknowledged: bool = False
    photos: Annotated[list[Sha256], Meta(max_length=10)] = []
    location: GeoPoint | None = None
    notes: Long | None = None


class PhotoRef(Struct, kw_only=True):
    sha256: str
    pending: bool


class FittingOut(Struct, kw_only=True):
    id: uuid.UUID
    job_id: uuid.UUID
    job_version: int
    order_id: uuid.UUID
    order_status: str
    installed_at: datetime
    devices: list[str]
    assignments: list[uuid.UUID]
    photos: list[PhotoRef]


class RemovedDeviceIn(Input, kw_only=True):
    serial: Annotated[str, Meta(min_length=1, max_length=64)]
    condition: DeviceCondition


class RemovalIn(Input, kw_only=True):
    version: int  # the job version this removal was based on
    reason: RemovalReason
    removed_at: datetime
    devices: Annotated[list[RemovedDeviceIn], Meta(min_length=1, max_length=5)]
    outcome: Medium | None = None  # how the order ended, for ORDER_ENDED / REVOKED
    notes: Long | None = None


class RemovalOut(Struct, kw_only=True):
    id: uuid.UUID
    job_id: uuid.UUID
    job_version: int
    order_id: uuid.UUID
    order_status: str
    reason: str
    devices: list[dict[str, Any]]


class FailedVisitIn(Input, kw_only=True):
    version: int
    outcome: VisitOutcome
    visited_at: datetime
    notes: Long | None = None
    location: GeoPoint | None = None


class FailedVisitOut(Struct, kw_only=True):
    id: uuid.UUID
    job_id: uuid.UUID
    job_version: int
    job_status: str
    outcome: str


# ---- devices -----------------------------------------------------------------------------------------------------


class DeviceIn(Input, kw_only=True):
    serial: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-_]+$")]
    device_type: DeviceType
    model: Annotated[str, Meta(min_length=1, max_length=80)]
    firmware: Annotated[str, Meta(max_length=40)] | None = None
    team_id: uuid.UUID | None = None


class DeviceOut(Struct, kw_only=True):
    id: uuid.UUID
    version: int
    serial: str
    device_type: str
    model: str
    firmware: str | None
    status: str
    team_id: uuid.UUID | None
    officer_id: uuid.UUID | None


StockAction = Literal["ALLOCATE", "RETURN_TO_STOCK", "MARK_FAULTY", "MARK_LOST", "RETIRE"]


class StockMoveIn(Input, kw_only=True):
    version: int
    action: StockAction
    officer_id: uuid.UUID | None = None  # for ALLOCATE; an officer may only take stock for themselves


# ---- offline sync ------------------------------------------------------------------------------------------------


class FittingOp(Input, kw_only=True, tag="FITTING", tag_field="kind"):
    op_id: uuid.UUID
    job_id: uuid.UUID
    fitting: FittingIn


class RemovalOp(Input, kw_only=True, tag="REMOVAL", tag_field="kind"):
    op_id: uuid.UUID
    job_id: uuid.UUID
    removal: RemovalIn


class FailedVisitOp(Input, kw_only=True, tag="FAILED_VISIT", tag_field="kind"):
    op_id: uuid.UUID
    job_id: uuid.UUID
    visit: FailedVisitIn


class StockMoveOp(Input, kw_only=True, tag="STOCK_MOVE", tag_field="kind"):
    op_id: uuid.UUID
    serial: Annotated[str, Meta(min_length=1, max_length=64)]
    move: StockMoveIn


Operation = FittingOp | RemovalOp | FailedVisitOp | StockMoveOp


class SyncBatch(Input, kw_only=True):
    operations: list[Operation]


class OperationResult(Struct, kw_only=True):
    op_id: uuid.UUID
    kind: str
    outcome: Literal["APPLIED", "CONFLICT", "REJECTED"]
    status: int
    result: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None
    current: dict[str, Any] | None = None  # the record's state now, for a conflict
    replayed: bool = False


class SyncOut(Struct, kw_only=True):
    results: list[OperationResult]
    applied: int
    conflicts: int
    rejected: int
    replayed: int


class PhotoOut(Struct, kw_only=True):
    sha256: str
    content_type: str
    size_bytes: int
    created: bool


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)
