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
    if hasattr(rows, "__aiter__"):
        async for row in rows:  # type: ignore[union-attr]
            yield csv_line(row).encode()
    else:
        for row in rows:  # type: ignore[union-attr]
            yield csv_line(row).encode()
