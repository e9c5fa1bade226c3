"""The compliance vocabulary: checks, results with evidence, and reports.

Three things are kept apart, as in the established checkers: what a check is (its definition), what a
framework requires (data files under ``frameworks/``) and what a run found (results carrying evidence).
"""

from __future__ import annotations

import enum
import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class Status(enum.StrEnum):
    PASS = "PASS"  # noqa: S105 - a result state, not a password
    FAIL = "FAIL"
    MANUAL = "MANUAL"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    ERROR = "ERROR"


class Surface(enum.StrEnum):
    CONFIG = "config"
    ENDPOINT = "endpoint"
    DEPENDENCIES = "dependencies"
    DATA = "data"
    DEVICES = "devices"


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """A check definition: the metadata lives in ``checks.toml``, the evaluation in a surface module."""

    id: str
    title: str
    surface: Surface
    severity: Severity
    evaluates: str
    risk: str
    remediation: str
    references: tuple[str, ...] = ()  # framework requirement ids such as "CAF:B2.a" or "ASVS:6.3.3"


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    looked_at: str
    values: dict[str, Any] = {}
    sha256: str = ""
    collected_at: datetime


class Waived(msgspec.Struct, frozen=True, kw_only=True):
    justification: str
    approver: str
    expires: str


class Result(msgspec.Struct, frozen=True, kw_only=True):
    check_id: str
    status: Status
    severity: Severity
    resource: str
    message: str
    evidence: Evidence
    fingerprint: str
    waived: Waived | None = None


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """What a check function returns; the runner turns it into a :class:`Result` with hashed evidence."""

    status: Status
    message: str
    resource: str = "deployment"
    looked_at: str = ""
    values: dict[str, Any] = {}


def fingerprint(check_id: str, resource: str) -> str:
    """Stable across runs: the same check on the same resource always has the same fingerprint."""
    return hashlib.sha256(f"{check_id}\x1f{resource}".encode()).hexdigest()


def evidence_for(looked_at: str, values: dict[str, Any], now: datetime | None = None) -> Evidence:
    canonical = msgspec.json.encode({"looked_at": looked_at, "values": values}, order="sorted")
    return Evidence(
        looked_at=looked_at,
        values=values,
        sha256=hashlib.sha256(canonical).hexdigest(),
        collected_at=now or datetime.now(UTC),
    )


class RequirementStatus(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    group: str
    status: str  # passing | failing | manual | error | not_applicable
    checks: tuple[str, ...] = ()


class FrameworkSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    total: int
    covered: int
    passing: int
    failing: int
    manual: int
    error: int
    not_applicable: int
    requirements: tuple[RequirementStatus, ...] = ()


class Report(msgspec.Struct, kw_only=True):
    tool: str = "emon-compliance"
    version: str = "1"
    generated_at: datetime
    environment: str = "unknown"
    surfaces: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    results: tuple[Result, ...] = ()
    frameworks: tuple[FrameworkSummary, ...] = ()
    notes: tuple[str, ...] = ()

    def check(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)
