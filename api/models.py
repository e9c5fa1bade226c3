"""Every package's models, imported once so that one metadata describes the whole schema (for Alembic)."""

from __future__ import annotations

from core.db import Base

# Import each domain package's models here so their tables join Base.metadata.

metadata = Base.metadata
