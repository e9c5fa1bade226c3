"""OSV advisories (https://ossf.github.io/osv-schema/) for PyPI packages, and CVSS v3 base scores."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compliance.versions import parse_version


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    published: datetime | None
    modified: datetime | None
    score: float | None  # CVSS v3 base score when a vector is given
    label: str | None  # database_specific.severity (LOW / MODERATE / HIGH / CRITICAL)
    affected: tuple[dict[str, Any], ...]

    @property
    def high_or_critical(self) -> bool:
        """Cyber Essentials: CVSS v3 >= 7, or no score given at all, counts as high/critical."""
        if self.score is not None:
            return self.score >= 7.0
        if self.label:
            return self.label.upper() in {"HIGH", "CRITICAL"}
        return True


def normalise_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_advisories(path: Path | str) -> list[Advisory]:
    """OSV JSON from a file (object or list) or a folder of ``*.json`` files; ValueError when malformed."""
    root = Path(path)
    if not root.exists():
        raise ValueError(f"advisory path not found: {root.name}")
    files = sorted(root.rglob("*.json")) if root.is_dir() else [root]
    out: list[Advisory] = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid advisory file {f.name}: {exc}") from exc
        for entry in data if isinstance(data, list) else [data]:
            try:
                out.append(parse_advisory(entry))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"invalid OSV entry in {f.name}: {exc}") from exc
    return out


def parse_advisory(entry: dict[str, Any]) -> Advisory:
    score = None
    for sev in entry.get("severity") or ():
        if sev.get("type") in {"CVSS_V3", "CVSS_V3.1", "CVSS_V3.0"} and sev.get("score"):
            score = cvss3_base_score(sev["score"])
            break
    label = (entry.get("database_specific") or {}).get("severity")
    return Advisory(
        id=str(entry["id"]),
        aliases=tuple(entry.get("aliases") or ()),
        summary=str(entry.get("summary") or entry.get("details", ""))[:200],
        published=_parse_time(entry.get("published")),
        modified=_parse_time(entry.get("modified")),
        score=score,
        label=label,
        affected=tuple(entry.get("affected") or ()),
    )


@dataclass(frozen=True)
class Match:
    advisory: Advisory
    package: str
    installed: str
    fixed: str | None  # the first fixed version above the installed one, if any


def matches(advisory: Advisory, package: str, installed: str) -> Match | None:
    """Whether ``package==installed`` is affected, and by which fix it would be cured."""
    name = normalise_name(package)
    try:
        version = parse_version(installed)
    except ValueError:
        return None
    for aff in advisory.affected:
        pkg = aff.get("package") or {}
        if str(pkg.get("ecosystem", "")).split(":")[0] != "PyPI" or normalise_name(str(pkg.get("name", ""))) != name:
            continue
        listed = installed in (aff.get("versions") or ())
        fixed: str | None = None
        hit = listed
        for rng in aff.get("ranges") or ():
            if rng.get("type") != "ECOSYSTEM":
                continue
            in_range, fix = _in_range(version, rng.get("events") or ())
            hit = hit or in_range
            if in_range:
                fixed = fix
        if hit:
            if fixed is None:
                fixed = _first_fix_above(version, aff)
            return Match(advisory, package, installed, fixed)
    return None


def _in_range(version: Any, events: Any) -> tuple[bool, str | None]:
    affected = False
    fix: str | None = None
    for event in events:
        if "introduced" in event:
            intro = event["introduced"]
            if intro == "0" or parse_version(intro) <= version:
                affected = True
        elif "fixed" in event:
            if parse_version(event["fixed"]) <= version:
                affected = False
            elif affected:
                fix = event["fixed"]
                return True, fix
        elif "last_affected" in event:
            if parse_version(event["last_affected"]) < version:
                affected = False
            elif affected:
                return True, None
    return affected, fix


def _first_fix_above(version: Any, aff: dict[str, Any]) -> str | None:
    fixes = sorted(
        (parse_version(e["fixed"]), e["fixed"])
        for rng in aff.get("ranges") or ()
        for e in rng.get("events") or ()
        if "fixed" in e
    )
    return next((text for v, text in fixes if v > version), None)


# --- CVSS v3.x base score (FIRST specification, section 7) ---

_W = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def _roundup(value: float) -> float:
    as_int = round(value * 100_000)
    if as_int % 10_000 == 0:
        return as_int / 100_000.0
    return (math.floor(as_int / 10_000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float:
    """Base score of a ``CVSS:3.x/AV:../AC:../PR:../UI:../S:../C:../I:../A:..`` vector."""
    parts = vector.strip().split("/")
    if not parts or not parts[0].startswith("CVSS:3"):
        raise ValueError(f"not a CVSS v3 vector: {vector!r}")
    metrics = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    try:
        scope = metrics["S"]
        iss = 1 - (1 - _W["C"][metrics["C"]]) * (1 - _W["I"][metrics["I"]]) * (1 - _W["A"][metrics["A"]])
        impact = 6.42 * iss if scope == "U" else 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
        exploitability = (
            8.22
            * _W["AV"][metrics["AV"]]
            * _W["AC"][metrics["AC"]]
            * _PR[scope][metrics["PR"]]
            * _W["UI"][metrics["UI"]]
        )
    except KeyError as exc:
        raise ValueError(f"incomplete CVSS v3 vector: {vector!r}") from exc
    if impact <= 0:
        return 0.0
    if scope == "U":
        return _roundup(min(impact + exploitability, 10))
    return _roundup(min(1.08 * (impact + exploitability), 10))
