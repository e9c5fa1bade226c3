"""Field work records: wearers, orders and their versions, visit jobs and visits, devices, fittings, assignments,
removals, evidence photos and the offline-sync idempotency ledger.

Every mutable record carries ``version`` as SQLAlchemy's ``version_id_col``: an UPDATE only lands when the row still
has the version it was read at, so two writers can never silently overwrite each other. An order version's content
(addresses, conditions, risk, organisations) is one JSON document, immutable once submitted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, Timestamps, UUIDPrimaryKey


class Wearer(UUIDPrimaryKey, Timestamps, Base):
    """A device wearer. ``caseworker_id`` is the caseload link; ``team_id`` the field team of their region."""

    __tablename__ = "wearers"

    version: Mapped[int] = mapped_column(Integer)
    caseworker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    nomis_id: Mapped[str | None] = mapped_column(String(20), index=True)
    pnc_id: Mapped[str | None] = mapped_column(String(20))
    crn: Mapped[str | None] = mapped_column(String(20))
    prison_number: Mapped[str | None] = mapped_column(String(20))
    home_office_ref: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_names: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(100))
    aliases: Mapped[list[str]] = mapped_column(JSON)
    date_of_birth: Mapped[date | None]
    sex: Mapped[str | None] = mapped_column(String(32))
    gender: Mapped[str | None] = mapped_column(String(32))
    gender_self_description: Mapped[str | None] = mapped_column(String(100))
    disabilities: Mapped[list[str]] = mapped_column(JSON)
    language: Mapped[str | None] = mapped_column(String(60))
    interpreter_required: Mapped[bool] = mapped_column(Boolean)
    no_fixed_abode: Mapped[bool] = mapped_column(Boolean)
    responsible_adult: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __mapper_args__ = {"version_id_col": version}


class ProtectedCharacteristics(Timestamps, Base):
    """Self-declared, optional, access-restricted: kept apart so no ordinary wearer query can reach it."""

    __tablename__ = "wearer_protected_characteristics"

    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    ethnicity: Mapped[str | None] = mapped_column(String(40))
    nationality: Mapped[str | None] = mapped_column(String(80))
    religion: Mapped[str | None] = mapped_column(String(40))
    disability: Mapped[str | None] = mapped_column(String(40))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))

    __mapper_args__ = {"version_id_col": version}


class Order(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "orders"

    version: Mapped[int] = mapped_column(Integer)
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    order_type: Mapped[str | None] = mapped_column(String(20))
    current_number: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    activated_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_outcome: Mapped[str | None] = mapped_column(String(40))

    __mapper_args__ = {"version_id_col": version}


class OrderVersion(UUIDPrimaryKey, Timestamps, Base):
    """One version of an order; its content never changes once submitted (a variation makes a new version)."""

    __tablename__ = "order_versions"
    __table_args__ = (UniqueConstraint("order_id", "number"),)

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    request_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))


class VisitJob(UUIDPrimaryKey, Timestamps, Base):
    """Work for a field officer at an address: allocated to a team by region, then to an officer."""

    __tablename__ = "visit_jobs"

    version: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    order_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("order_versions.id"))
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    officer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    appointment_start: Mapped[datetime] = mapped_column(index=True)
    appointment_end: Mapped[datetime]
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    completed_at: Mapped[datetime | None]

    __mapper_args__ = {"version_id_col": version}


class Visit(UUIDPrimaryKey, Base):
    """One attempt at a job: completed, or failed with an outcome (the job then stays open for re-booking)."""

    __tablename__ = "visits"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_jobs.id"), index=True)
    officer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    outcome: Mapped[str] = mapped_column(String(24))
    notes: Mapped[str | None] = mapped_column(Text)
    visited_at: Mapped[datetime]
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Device(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "stock_devices"

    version: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    device_type: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(80))
    firmware: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(24), index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id"), index=True)
    officer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)

    __mapper_args__ = {"version_id_col": version}


class Fitting(UUIDPrimaryKey, Base):
    __tablename__ = "fittings"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_jobs.id"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"))
    officer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    installed_at: Mapped[datetime]
    fit_check_passed: Mapped[bool] = mapped_column(Boolean)
    signal_check_passed: Mapped[bool] = mapped_column(Boolean)
    wearer_acknowledged: Mapped[bool] = mapped_column(Boolean)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    photos: Mapped[list[str]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Removal(UUIDPrimaryKey, Base):
    __tablename__ = "removals"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visit_jobs.id"))
    officer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    removed_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(24))
    notes: Mapped[str | None] = mapped_column(Text)
    devices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeviceAssignment(UUIDPrimaryKey, Timestamps, Base):
    """A device on a wearer for a period: compliance is tracked per assignment because devices are reused."""

    __tablename__ = "device_assignments"
    # The database's own guarantee that a device is on one wearer at a time (the service checks first, to explain).
    __table_args__ = (
        Index(
            "uq_device_assignments_open_device",
            "device_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    version: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stock_devices.id"), index=True)
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    fitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fittings.id"))
    placement: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    removal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("removals.id"))

    __mapper_args__ = {"version_id_col": version}


class Photo(Base):
    """Evidence photo metadata; the bytes live encrypted in the content-addressed store, keyed by this hash."""

    __tablename__ = "evidence_photos"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(20))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncOperation(UUIDPrimaryKey, Base):
    """The result of one offline operation, so a replay answers the same and changes nothing."""

    __tablename__ = "sync_operations"
    __table_args__ = (UniqueConstraint("officer_id", "client_op_id"),)

    officer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    client_op_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
