"""CSV exports, streamed row by row, with spreadsheet formula injection neutralised.

A cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) gets a leading apostrophe, so opening the file never runs what a wearer or a member of staff typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """One cell as text, safe to open in a spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
    elif isinstance(value, list | tuple):
        text = ";".join(str(v) for v in value)
    else:
        text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def csv_line(row: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise(v) for v in row])
    return buffer.getvalue()


async def stream_csv(
    header: Sequence[str], rows: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]]
) -> AsyncIterator[bytes]:
    """The header line then one line per row, encoded as UTF-8."""
    yield csv_line(header).encode()
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield csv_line(row).encode()
    else:
        for row in rows:
            yield csv_line(row).encode()


# ---- what the exports contain ------------------------------------------------------------------------------------

WEARER_HEADER = (
    "prompt_id",
    "prompt_kind",
    "issued_at",
    "prompt_status",
    "checkin_id",
    "checkin_status",
    "received_at",
    "distance",
    "reasons",
    "review_outcome",
    "review_reason",
    "decided_at",
)
CASELOAD_HEADER = ("wearer_id", "wearer", "missed_7d", "referred_7d", "open_items", "compliance_rate_30d")


async def wearer_record_rows(db: Any, wearer_id: Any) -> AsyncIterator[tuple[Any, ...]]:
    """Every prompt of one wearer with its check-in and latest review decision, oldest first, read in batches on
    a session of its own (the request's transaction has ended by the time the body streams)."""
    from sqlalchemy import func, select

    from checkin.models import Alert, Checkin, Prompt
    from review.models import ReviewDecision

    latest = (
        select(ReviewDecision.alert_id, func.max(ReviewDecision.revision).label("revision"))
        .group_by(ReviewDecision.alert_id)
        .subquery()
    )
    statement = (
        select(
            Prompt.id,
            Prompt.kind,
            Prompt.issue_at,
            Prompt.status,
            Checkin.id,
            Checkin.status,
            Checkin.received_at,
            Checkin.distance,
            Checkin.reasons,
            ReviewDecision.outcome,
            ReviewDecision.reason,
            ReviewDecision.decided_at,
        )
        .outerjoin(Checkin, Checkin.prompt_id == Prompt.id)
        .outerjoin(Alert, Alert.prompt_id == Prompt.id)
        .outerjoin(latest, latest.c.alert_id == Alert.prompt_id)
        .outerjoin(
            ReviewDecision,
            (ReviewDecision.alert_id == latest.c.alert_id) & (ReviewDecision.revision == latest.c.revision),
        )
        .where(Prompt.wearer_id == wearer_id)
        .order_by(Prompt.issue_at, Prompt.id)
        .execution_options(yield_per=500)
    )
    async with db.sessionmaker() as session:
        result = await session.stream(statement)
        async for row in result:
            yield tuple(row)
