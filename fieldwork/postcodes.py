"""UK postcodes: the full-postcode format (including the special GIR 0AA) and one normal form."""

from __future__ import annotations

import re

# Outward code: area (1-2 letters) + district; inward code: sector digit + unit (2 letters). Letter rules from the
# Royal Mail format: Q, V, X never first; I, J, Z never second; the third/fourth letters from restricted sets; the
# unit never uses C, I, K, M, O or V.
_POSTCODE = re.compile(
    r"^(?:GIR0AA|"
    r"(?:[A-PR-UWYZ][0-9]{1,2}"
    r"|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
    r"[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def normalise_postcode(raw: str) -> str | None:
    """The postcode in its normal form (``SW1A 1AA``), or ``None`` when it is not a full UK postcode."""
    compact = re.sub(r"\s+", "", raw or "").upper()
    if not _POSTCODE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"
