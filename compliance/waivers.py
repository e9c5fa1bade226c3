"""Waivers (accepted risks with an owner and an expiry) and baselines (fingerprints of earlier findings)."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import msgspec

from compliance.errors import ExpiredWaiverError, InputError
from compliance.frameworks import summarise
from compliance.model import Report, Result, Status, Waived

REQUIRED = ("check", "resource", "justification", "approver", "expires")


@dataclass(frozen=True)
class Waiver:
    check: str
    resource: str  # glob over the result's resource
    justification: str
    approver: str
    expires: date

    def covers(self, result: Result) -> bool:
        return result.check_id == self.check and fnmatch.fnmatchcase(result.resource, self.resource)


def load_waivers(path: Path | str, known_checks: set[str], today: date) -> list[Waiver]:
    """Parse and check a waiver file: malformed → InputError (exit 2), expired → ExpiredWaiverError (4)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read waiver file {p.name}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"waiver file {p.name} is not valid TOML: {exc}") from exc
    entries = data.get("waiver", [])
    if not isinstance(entries, list) or set(data) - {"waiver"}:
        raise InputError(f"waiver file {p.name}: expected only [[waiver]] tables")
    waivers: list[Waiver] = []
    for i, e in enumerate(entries, 1):
        where = f"waiver file {p.name}, waiver {i}"
        missing = [k for k in REQUIRED if not e.get(k) or (isinstance(e.get(k), str) and not e[k].strip())]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)}")
        unknown = set(e) - set(REQUIRED)
        if unknown:
            raise InputError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        expires = e["expires"]
        if isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError as exc:
                raise InputError(f"{where}: expires is not a date") from exc
        if not isinstance(expires, date):
            raise InputError(f"{where}: expires is not a date")
        if e["check"] not in known_checks:
            raise InputError(f"{where}: unknown check {e['check']}")
        waivers.append(Waiver(e["check"], str(e["resource"]), e["justification"], e["approver"], expires))
    expired = [w for w in waivers if w.expires < today]
    if expired:
        listed = ", ".join(f"{w.check} {w.resource} (expired {w.expires}, approver {w.approver})" for w in expired)
        raise ExpiredWaiverError(f"expired waiver(s): {listed}")
    return waivers


def apply_waivers(report: Report, waivers: list[Waiver]) -> Report:
    """Mark FAIL and ERROR results a waiver covers; they stay in the report, flagged as waived."""
    results = []
    for r in report.results:
        w = next((w for w in waivers if r.status in {Status.FAIL, Status.ERROR} and w.covers(r)), None)
        if w is not None:
            r = msgspec.structs.replace(
                r,
                waived=Waived(justification=w.justification, approver=w.approver, expires=w.expires.isoformat()),
            )
        results.append(r)
    report.results = tuple(results)
    report.frameworks = tuple(summarise(results))
    return report


def load_baseline(path: Path | str) -> set[str]:
    """Fingerprints of the FAIL results of an earlier JSON report."""
    p = Path(path)
    try:
        data = msgspec.json.decode(p.read_bytes())
        return {str(r["fingerprint"]) for r in data["results"] if r.get("status") == "FAIL" and r.get("fingerprint")}
    except OSError as exc:
        raise InputError(f"cannot read baseline {p.name}: {exc.strerror}") from exc
    except (msgspec.DecodeError, KeyError, TypeError) as exc:
        raise InputError(f"baseline {p.name} is not a compliance JSON report") from exc
