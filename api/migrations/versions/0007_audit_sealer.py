"""audit sealer: entries are inserted unsealed with an insertion id, and chained (seq, hash) by the sealer

Revision ID: 0007_audit_sealer
Revises: 0006_review
Create Date: 2026-11-26 15:20:00.000000

Existing entries are already chained: they keep their seq and hash and take their seq as insertion id, and the
chain head records the highest sealed id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0007_audit_sealer"
down_revision: str | Sequence[str] | None = "0006_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "at, actor_id, actor_role, action, resource_type, resource_id, outcome, client_address, request_id, details, "
    "prev_hash, hash, head_id"
)


def _events_table(name: str, *, sealer: bool) -> None:
    """``audit_events`` as SQLite needs it rebuilt (it cannot change a primary key in place)."""
    if sealer:
        keys = [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=True),
        ]
        constraints = [
            sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
            sa.UniqueConstraint("seq", name="uq_audit_events_seq"),
        ]
    else:
        keys = [sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False)]
        constraints = [sa.PrimaryKeyConstraint("seq", name="pk_audit_events")]
    op.create_table(
        name,
        *keys,
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("resource_type", sa.String(length=80), nullable=False),
        sa.Column("resource_id", sa.String(length=80), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=sealer),
        sa.Column("hash", sa.String(length=64), nullable=sealer),
        sa.Column("head_id", sa.Integer(), nullable=sealer),
        sa.ForeignKeyConstraint(["head_id"], ["audit_chain_head.id"], name="fk_audit_events_head_id_audit_chain_head"),
        *constraints,
        sa.UniqueConstraint("hash", name="uq_audit_events_hash"),
    )


def _swap_sqlite_table(copy: str) -> None:
    op.execute(copy)
    op.drop_index("ix_audit_events_resource_id", table_name="audit_events")
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.drop_table("audit_events")
    op.rename_table("_audit_events_new", "audit_events")
    op.create_index("ix_audit_events_action", "audit_events", ["action"], unique=False)
    op.create_index("ix_audit_events_resource_id", "audit_events", ["resource_id"], unique=False)


def upgrade() -> None:
    op.add_column("audit_chain_head", sa.Column("last_id", sa.BigInteger(), server_default="0", nullable=False))
    op.execute("UPDATE audit_chain_head SET last_id = seq")
    if op.get_bind().dialect.name == "sqlite":
        _events_table("_audit_events_new", sealer=True)
        _swap_sqlite_table(f"INSERT INTO _audit_events_new (id, seq, {COLUMNS}) SELECT seq, seq, {COLUMNS} FROM audit_events")
        return
    op.add_column("audit_events", sa.Column("id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE audit_events SET id = seq")
    op.execute("CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id")
    op.execute("SELECT setval('audit_events_id_seq', COALESCE((SELECT MAX(id) FROM audit_events), 0) + 1, false)")
    op.execute("ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq')")
    op.alter_column("audit_events", "id", nullable=False)
    op.drop_constraint("pk_audit_events", "audit_events", type_="primary")
    op.create_primary_key("pk_audit_events", "audit_events", ["id"])
    for column in ("seq", "prev_hash", "hash", "head_id"):
        op.alter_column("audit_events", column, nullable=True)
    op.create_unique_constraint("uq_audit_events_seq", "audit_events", ["seq"])


def downgrade() -> None:
    unsealed = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM audit_events WHERE seq IS NULL")).scalar_one()
    if unsealed:
        raise RuntimeError(f"{unsealed} audit entries are not sealed yet: run `emon audit seal` first")
    if op.get_bind().dialect.name == "sqlite":
        _events_table("_audit_events_new", sealer=False)
        _swap_sqlite_table(f"INSERT INTO _audit_events_new (seq, {COLUMNS}) SELECT seq, {COLUMNS} FROM audit_events")
    else:
        op.drop_constraint("uq_audit_events_seq", "audit_events", type_="unique")
        op.drop_constraint("pk_audit_events", "audit_events", type_="primary")
        for column in ("seq", "prev_hash", "hash", "head_id"):
            op.alter_column("audit_events", column, nullable=False)
        op.create_primary_key("pk_audit_events", "audit_events", ["seq"])
        op.drop_column("audit_events", "id")
    # in place (SQLite >= 3.35): a batch rebuild would drop a table the entries' foreign key points at
    op.execute("ALTER TABLE audit_chain_head DROP COLUMN last_id")
