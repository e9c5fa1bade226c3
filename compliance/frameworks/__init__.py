"""Frameworks as data: every requirement of each framework, and the coverage that a run's results give them.

A requirement no check maps to is MANUAL, so the coverage figures stay honest. GovS 007 is never judged
directly: its items aggregate the CAF outcomes they list.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from compliance.model import FrameworkSummary, RequirementStatus, Result, Status

FRAMEWORK_DIR = Path(__file__).parent
ORDER = ("CAF", "CE", "ASVS", "API", "CSP", "GOVS007")


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    group: str
    caf: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framework:
    id: str
    title: str
    version: str
    note: str
    requirements: tuple[Requirement, ...]
    aggregate_of: str | None = None

    def ref(self, requirement_id: str) -> str:
        return f"{self.id}:{requirement_id}"


@cache
def frameworks() -> dict[str, Framework]:
    found: dict[str, Framework] = {}
    for path in sorted(FRAMEWORK_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        reqs = tuple(
            Requirement(r["id"], r["title"], r.get("group", ""), tuple(r.get("caf", ()))) for r in data["requirement"]
        )
        ids = [r.id for r in reqs]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate requirement ids in {path.name}")
        found[data["id"]] = Framework(
            data["id"],
            data["title"],
            str(data["version"]),
            data.get("note", ""),
            reqs,
            data.get("aggregate_of"),
        )
    return {k: found[k] for k in sorted(found, key=lambda k: ORDER.index(k) if k in ORDER else 99)}


def all_refs() -> set[str]:
    return {fw.ref(r.id) for fw in frameworks().values() for r in fw.requirements}


def checks_by_ref() -> dict[str, list[str]]:
    from compliance.registry import definitions

    out: dict[str, list[str]] = {}
    for c in definitions().values():
        for ref in c.references:
            out.setdefault(ref, []).append(c.id)
    return out


_PRECEDENCE = ("failing", "error", "waived", "passing", "not_applicable")


def _combine(states: Iterable[str]) -> str:
    present = set(states)
    for s in _PRECEDENCE:
        if s in present:
            return s
    return "manual"


def _state(result: Result) -> str:
    if result.status is Status.FAIL:
        return "waived" if result.waived else "failing"
    return {
        Status.PASS: "passing",
        Status.ERROR: "error",
        Status.NOT_APPLICABLE: "not_applicable",
        Status.MANUAL: "manual",
    }[result.status]


def summarise(results: Iterable[Result]) -> list[FrameworkSummary]:
    by_check: dict[str, list[str]] = {}
    for r in results:
        by_check.setdefault(r.check_id, []).append(_state(r))
    mapping = checks_by_ref()
    summaries: list[FrameworkSummary] = []
    requirement_state: dict[str, str] = {}
    for fw in frameworks().values():
        rows: list[RequirementStatus] = []
        for req in fw.requirements:
            if fw.aggregate_of:
                refs = [f"{fw.aggregate_of}:{c}" for c in req.caf]
                check_ids: list[str] = sorted({c for ref in refs for c in mapping.get(ref, [])})
                states = [requirement_state.get(ref, "manual") for ref in refs]
                # an aggregate passes only when every outcome it rests on has passing evidence
                state = next((s for s in ("failing", "error", "manual") if s in states), _combine(states))
            else:
                check_ids = sorted(mapping.get(fw.ref(req.id), []))
                state = _combine(s for c in check_ids for s in by_check.get(c, []))
            requirement_state[fw.ref(req.id)] = state
            rows.append(
                RequirementStatus(id=req.id, title=req.title, group=req.group, status=state, checks=tuple(check_ids))
            )
        count = {s: sum(1 for r in rows if r.status == s) for s in (*_PRECEDENCE, "manual")}
        summaries.append(
            FrameworkSummary(
                id=fw.id,
                title=f"{fw.title} {fw.version}",
                total=len(rows),
                covered=sum(1 for r in rows if r.checks),
                passing=count["passing"] + count["waived"],
                failing=count["failing"],
                manual=count["manual"],
                error=count["error"],
                not_applicable=count["not_applicable"],
                requirements=tuple(rows),
            )
        )
    return summaries
