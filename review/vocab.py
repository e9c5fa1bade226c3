"""Review vocabulary: what a caseworker can decide about an item."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    ACCEPTED = "ACCEPTED"  # the check-in was genuine after all: counts as compliant
    CONFIRMED_NON_COMPLIANT = "CONFIRMED_NON_COMPLIANT"
    EXCUSED = "EXCUSED"  # a reasonable excuse or an authorised absence: neither compliant nor a breach


OUTCOME_LABELS = {
    Outcome.ACCEPTED: "Accepted (compliant)",
    Outcome.CONFIRMED_NON_COMPLIANT: "Confirmed non-compliant",
    Outcome.EXCUSED: "Excused (reasonable excuse or authorised absence)",
}

#: A decision reason must say something, and not an essay.
REASON_MAX = 1000
#: How long a claim keeps an item for one caseworker.
CLAIM_SECONDS = 15 * 60
