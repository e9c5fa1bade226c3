"""Evidence reports: is monitoring applied proportionately, and does it work, for every group?

Aggregate only. Protected characteristics are read in bulk, turned into group counts at once and never returned
per person; the read is audited as an aggregate read. Every table goes through :mod:`review.suppression`, so a
count from 1 to 9 is hidden, together with whatever would let it be worked out from the totals.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import func, select

from checkin.models import Alert, Checkin, Prompt
from checkin.service import Ctx
from checkin.vocab import CheckinStatus, PromptStatus
from core.clock import utcnow
from core.errors import PermissionDenied
from fieldwork.models import Order, ProtectedCharacteristics, Wearer
from fieldwork.vocab import Ethnicity, ethnic_group
from review.models import ReviewItem
from review.suppression import THRESHOLD, rate, suppress_table
from review.vocab import Outcome
from security.actor import Role
from security.models import Team

READERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
NOT_RECORDED = "NOT_RECORDED"
DIMENSIONS = ("ethnic_group", "disability", "religion", "nationality", "age_band", "sex", "order_type", "region")
CSV_HEADER = ("table", "dimension", "group", "measure", "value")


class Row(msgspec.Struct, kw_only=True):
    group: str
    values: list[int | None]  # one per column; None = suppressed
    total: int | None
    rates: dict[str, float | None] = msgspec.field(default_factory=dict)


class Table(msgspec.Struct, kw_only=True):
    title: str
    dimension: str
    columns: list[str]
    rows: list[Row]
    totals: list[int | None]
    grand_total: int | None
    rate_definitions: dict[str, str] = msgspec.field(default_factory=dict)


class Report(msgspec.Struct, kw_only=True):
    name: str
    generated_at: datetime
    suppression_threshold: int
    tables: list[Table]
    notes: list[str]


def age_band(born: date | None, today: date) -> str:
    if born is None:
        return NOT_RECORDED
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < 18:
        return "UNDER_18"
    for upper, label in ((24, "18_24"), (34, "25_34"), (44, "35_44"), (54, "45_54"), (64, "55_64")):
        if age <= upper:
            return label
    return "65_PLUS"


def _ethnic_group(value: str | None) -> str:
    try:
        return ethnic_group(Ethnicity(value)).value if value else NOT_RECORDED
    except ValueError:
        return NOT_RECORDED


async def _people(ctx: Ctx) -> dict[uuid.UUID, dict[str, str]]:
    """Each wearer's group in every dimension but order type (that one belongs to the order)."""
    if ctx.actor.role not in READERS:
        raise PermissionDenied("reports are for supervisors and administrators")
    today = utcnow().date()
    rows = (
        await ctx.session.execute(
            select(
                Wearer.id,
                Wearer.date_of_birth,
                Wearer.sex,
                Team.region,
                ProtectedCharacteristics.ethnicity,
                ProtectedCharacteristics.disability,
                ProtectedCharacteristics.religion,
                ProtectedCharacteristics.nationality,
            )
            .outerjoin(Team, Team.id == Wearer.team_id)
            .outerjoin(ProtectedCharacteristics, ProtectedCharacteristics.wearer_id == Wearer.id)
        )
    ).all()
    people = {
        wid: {
            "ethnic_group": _ethnic_group(ethnicity),
            "disability": disability or NOT_RECORDED,
            "religion": religion or NOT_RECORDED,
            "nationality": nationality or NOT_RECORDED,
            "age_band": age_band(born, today),
            "sex": sex or NOT_RECORDED,
            "region": region or NOT_RECORDED,
        }
        for wid, born, sex, region, ethnicity, disability, religion, nationality in rows
    }
    await ctx.audit(
        "report.protected_characteristics.aggregate_read",
        "report",
        None,
        wearers=len(people),
        dimensions=list(DIMENSIONS),
        threshold=THRESHOLD,
    )
    return people


def _table(
    title: str,
    dimension: str,
    columns: list[str],
    counts: dict[str, list[int]],
    rates: dict[str, Callable[[list[int | None], int | None], float | None]] | None = None,
    definitions: dict[str, str] | None = None,
) -> Table:
    groups = sorted(counts)
    protected = suppress_table([counts[g] for g in groups] or [[0] * len(columns)])
    rows = []
    for index, group in enumerate(groups):
        values, total = protected[index][:-1], protected[index][-1]
        rows.append(
            Row(
                group=group,
                values=values,
                total=total,
                rates={name: fn(values, total) for name, fn in (rates or {}).items()},
            )
        )
    last = protected[-1]
    return Table(
        title=title,
        dimension=dimension,
        columns=columns,
        rows=rows,
        totals=last[:-1],
        grand_total=last[-1],
        rate_definitions=definitions or {},
    )


def _sum(values: list[int | None], *indexes: int) -> int | None:
    picked = [values[i] for i in indexes]
    return None if any(v is None for v in picked) else sum(v for v in picked if v is not None)


async def _prompt_counts(ctx: Ctx) -> list[tuple[uuid.UUID, str | None, str, str | None, str | None, int]]:
    statement = (
        select(
            Prompt.wearer_id,
            Order.order_type,
            Prompt.status,
            Checkin.status,
            ReviewItem.outcome,
            func.count(),
        )
        .join(Order, Order.id == Prompt.order_id)
        .outerjoin(Checkin, Checkin.prompt_id == Prompt.id)
        .outerjoin(Alert, Alert.prompt_id == Prompt.id)
        .outerjoin(ReviewItem, ReviewItem.alert_id == Alert.prompt_id)
        .where(Prompt.status.not_in([PromptStatus.PENDING.value, PromptStatus.SUBMITTED.value]))
        .group_by(Prompt.wearer_id, Order.order_type, Prompt.status, Checkin.status, ReviewItem.outcome)
    )
    return [tuple(r) for r in (await ctx.session.execute(statement)).all()]  # type: ignore[misc]


def _group_of(people: dict[uuid.UUID, dict[str, str]], wearer_id: uuid.UUID, order_type: str | None, dim: str) -> str:
    if dim == "order_type":
        return order_type or NOT_RECORDED
    return people.get(wearer_id, {}).get(dim, NOT_RECORDED)


VERIFICATION_COLUMNS = ["VERIFIED", "REFERRED", "REJECTED", "MISSED"]


async def proportionality(ctx: Ctx) -> Report:
    people = await _people(ctx)
    orders = (await ctx.session.execute(select(Order.wearer_id, Order.order_type, Order.status))).all()
    prompts = await _prompt_counts(ctx)
    tables: list[Table] = []
    order_columns = ["ACTIVE", "ENDED", "OTHER"]
    for dim in DIMENSIONS:
        counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(order_columns))
        for wearer_id, order_type, status in orders:
            column = order_columns.index(status) if status in order_columns else 2
            counts[_group_of(people, wearer_id, order_type, dim)][column] += 1
        tables.append(_table(f"Orders by {dim.replace('_', ' ')}", dim, order_columns, counts))
    for dim in DIMENSIONS:
        counts = defaultdict(lambda: [0] * len(VERIFICATION_COLUMNS))
        for wearer_id, order_type, prompt_status, checkin_status, _outcome, n in prompts:
            if checkin_status in VERIFICATION_COLUMNS:
                column = VERIFICATION_COLUMNS.index(checkin_status)
            elif prompt_status == PromptStatus.MISSED.value:
                column = 3
            else:
                continue
            counts[_group_of(people, wearer_id, order_type, dim)][column] += n
        tables.append(
            _table(
                f"Check-in outcomes by {dim.replace('_', ' ')}",
                dim,
                VERIFICATION_COLUMNS,
                counts,
                rates={
                    "verified_rate": lambda v, _t: rate(v[0], _sum(v, 0, 1, 2)),
                    "referred_or_rejected_rate": lambda v, _t: rate(_sum(v, 1, 2), _sum(v, 0, 1, 2)),
                },
                definitions={
                    "verified_rate": "VERIFIED / (VERIFIED + REFERRED + REJECTED): a matcher that fails one group "
                    "more than others shows here",
                    "referred_or_rejected_rate": "(REFERRED + REJECTED) / answered check-ins",
                },
            )
        )
    return Report(
        name="proportionality",
        generated_at=utcnow(),
        suppression_threshold=THRESHOLD,
        tables=tables,
        notes=_notes(),
    )


OUTCOME_COLUMNS = ["VERIFIED", "REFERRED_THEN_ACCEPTED", "REFERRED_OTHER", "MISSED"]


async def outcomes(ctx: Ctx) -> Report:
    people = await _people(ctx)
    ends = (
        await ctx.session.execute(
            select(Order.end_outcome, func.count()).where(Order.status == "ENDED").group_by(Order.end_outcome)
        )
    ).all()
    tables = [
        _table(
            "Order end outcomes",
            "end_outcome",
            ["ORDERS"],
            {(outcome or NOT_RECORDED): [int(n)] for outcome, n in ends},
        )
    ]
    prompts = await _prompt_counts(ctx)
    for dim in DIMENSIONS:
        counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(OUTCOME_COLUMNS))
        for wearer_id, order_type, prompt_status, checkin_status, outcome, n in prompts:
            if checkin_status == CheckinStatus.VERIFIED.value:
                column = 0
            elif checkin_status in (CheckinStatus.REFERRED.value, CheckinStatus.REJECTED.value):
                column = 1 if outcome == Outcome.ACCEPTED.value else 2
            elif prompt_status == PromptStatus.MISSED.value:
                column = 3
            else:
                continue
            counts[_group_of(people, wearer_id, order_type, dim)][column] += n
        tables.append(
            _table(
                f"Compliance and referrals by {dim.replace('_', ' ')}",
                dim,
                OUTCOME_COLUMNS,
                counts,
                rates={
                    "compliance_rate": lambda v, t: rate(_sum(v, 0, 1), t),
                    "referral_rate": lambda v, _t: rate(_sum(v, 1, 2), _sum(v, 0, 1, 2)),
                    "false_referral_rate": lambda v, _t: rate(v[1], _sum(v, 1, 2)),
                },
                definitions={
                    "compliance_rate": "(VERIFIED + referred then ACCEPTED) / prompts due",
                    "referral_rate": "referred or rejected / answered check-ins",
                    "false_referral_rate": "referred then ACCEPTED by a caseworker / referred or rejected",
                },
            )
        )
    return Report(
        name="outcomes", generated_at=utcnow(), suppression_threshold=THRESHOLD, tables=tables, notes=_notes()
    )


def _notes() -> list[str]:
    return [
        f"Counts from 1 to {THRESHOLD - 1} are suppressed (null), and so is the smallest other count that would "
        "let a suppressed one be worked out from a row or column total.",
        "A rate is null when a count it uses is suppressed or its base is below the threshold.",
        "Protected characteristics are self-declared and optional; NOT_RECORDED covers no answer.",
    ]


def csv_rows(report: Report) -> Iterator[tuple[Any, ...]]:
    """The report long-form: one line per (table, group, measure); suppressed values are empty cells."""
    for table in report.tables:
        for row in table.rows:
            for column, value in zip(table.columns, row.values, strict=True):
                yield (table.title, table.dimension, row.group, column, value)
            yield (table.title, table.dimension, row.group, "TOTAL", row.total)
            for name, share in row.rates.items():
                yield (table.title, table.dimension, row.group, name, share)
        for column, value in zip(table.columns, table.totals, strict=True):
            yield (table.title, table.dimension, "ALL", column, value)
        yield (table.title, table.dimension, "ALL", "TOTAL", table.grand_total)
