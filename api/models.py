"""Every package's models, imported once so that one metadata describes the whole schema (for Alembic)."""

from __future__ import annotations

# Import each domain package's models here so their tables join Base.metadata.
import checkin.models  # noqa: F401
import fieldwork.models  # noqa: F401
import review.models  # noqa: F401
import security.audit
import security.models  # noqa: F401
from core.db import Base

metadata = Base.metadata
