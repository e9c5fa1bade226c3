"""Statistical disclosure control for the evidence reports.

A published count between 1 and ``THRESHOLD - 1`` could point at a person, so it is suppressed (primary
suppression). A table also publishes its row and column totals, so a lone suppressed cell could be recovered by
subtraction; secondary suppression then hides the smallest other cell of that row or column, repeating until no row
or column (totals included) has exactly one hidden cell. Rates computed from a hidden count are hidden too.
"""

from __future__ import annotations

from collections.abc import Sequence

THRESHOLD = 10


def is_small(value: int) -> bool:
    return 0 < value < THRESHOLD


def suppress_table(cells: Sequence[Sequence[int]]) -> list[list[int | None]]:
    """Cells of a table (rows x columns) extended with row totals (last column) and column totals (last row);
    ``None`` where a value is suppressed."""
    rows = [list(r) for r in cells]
    if not rows:
        return [[]]
    width = len(rows[0])
    full = [[*r, sum(r)] for r in rows]
    full.append([sum(r[c] for r in rows) for c in range(width)] + [sum(sum(r) for r in rows)])
    hidden = [[is_small(v) for v in row] for row in full]

    def lines() -> list[list[tuple[int, int]]]:
        # each row (with its total) and each column (with its total) adds up to its last cell
        result = [[(i, j) for j in range(width + 1)] for i in range(len(full))]
        result += [[(i, j) for i in range(len(full))] for j in range(width + 1)]
        return result

    changed = True
    while changed:
        changed = False
        for line in lines():
            concealed = [p for p in line if hidden[p[0]][p[1]]]
            if len(concealed) != 1:
                continue
            candidates = [p for p in line if not hidden[p[0]][p[1]] and full[p[0]][p[1]] > 0]
            if not candidates:
                # only zeros are left visible: hiding the total is the one way to protect the cell
                candidates = [p for p in line if not hidden[p[0]][p[1]]]
            if not candidates:
                continue
            i, j = min(candidates, key=lambda p: (full[p[0]][p[1]], p))
            hidden[i][j] = True
            changed = True
    return [[None if hidden[i][j] else full[i][j] for j in range(width + 1)] for i in range(len(full))]


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """A proportion rounded to three places, or ``None`` when either side is hidden or the base is too small."""
    if numerator is None or denominator is None or denominator < THRESHOLD:
        return None
    return round(numerator / denominator, 3)
