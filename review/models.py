"""Review records: the state of each queue item (claim, current outcome) and the append-only decision history.

``review_items`` has one row per check-in alert once anyone claims or decides it; its ``version`` is SQLAlchemy's
``version_id_col``, so two concurrent claims or decisions cannot both land. ``review_decisions`` is never updated:
a supervisor's revision is a new row that names the one it supersedes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.db import Base, Timestamps, UUIDPrimaryKey


class ReviewItem(Timestamps, Base):
    __tablename__ = "review_items"

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_alerts.prompt_id"), primary_key=True)
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    claimed_until: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32), index=True)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": version}


class ReviewDecision(UUIDPrimaryKey, Base):
    __tablename__ = "review_decisions"
    __table_args__ = (UniqueConstraint("alert_id", "revision"),)

    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_alerts.prompt_id"), index=True)
    checkin_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkins.id"), index=True)
    wearer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wearers.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    decided_by_role: Mapped[str] = mapped_column(String(32))
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("review_decisions.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
