"""Dependencies surface: installed packages against OSV advisories, support windows and the lock file."""

from __future__ import annotations

import sys
import sysconfig
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from compliance.errors import InputMissingError
from compliance.model import Finding, Status
from compliance.osv import Advisory, Match, load_advisories, matches, normalise_name
from compliance.registry import check
from compliance.versions import parse_version

SUPPORT_FILE = Path(__file__).resolve().parents[1] / "policies" / "support.toml"
FIX_WINDOW = timedelta(days=14)  # Cyber Essentials: high/critical updates within 14 days


def installed_packages() -> dict[str, str]:
    """Distributions installed in this environment's site-packages, first on the path winning as for imports.

    Copies vendored inside other packages (setuptools puts its ``_vendor`` folder on ``sys.path``) are not installed
    packages and are left out.
    """
    sites = {Path(p).resolve() for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}}
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or normalise_name(name) in out:
            continue
        try:
            base = Path(str(dist.locate_file(""))).resolve()
        except (OSError, TypeError):
            continue
        if base in sites:
            out[normalise_name(name)] = dist.version
    return out


@dataclass
class DependencyContext:
    installed: dict[str, str]
    advisories: list[Advisory] | None
    lock_file: Path | None
    support: dict[str, Any]
    python_version: str
    now: datetime
    _matches: list[Match] | None = field(default=None, repr=False)

    def vulnerable(self) -> list[Match]:
        if self.advisories is None:
            raise InputMissingError("no advisory data given (--advisories PATH): vulnerabilities cannot be judged")
        if self._matches is None:
            found = []
            for adv in self.advisories:
                for name, version in self.installed.items():
                    m = matches(adv, name, version)
                    if m:
                        found.append(m)
            self._matches = sorted(found, key=lambda m: (m.package, m.advisory.id))
        return self._matches


def load_support(path: Path = SUPPORT_FILE) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def build_context(inputs: Any) -> DependencyContext:
    advisories = load_advisories(inputs.advisories) if inputs.advisories is not None else None
    lock = inputs.lock_file if inputs.lock_file is not None else _find_lock()
    return DependencyContext(
        installed=installed_packages(),
        advisories=advisories,
        lock_file=lock,
        support=load_support(inputs.eol_file or SUPPORT_FILE),
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        now=inputs.now,
    )


def _find_lock() -> Path | None:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent / "uv.lock"
    return None


def _vuln_finding(m: Match, status: Status, message: str) -> Finding:
    adv = m.advisory
    return Finding(
        status=status,
        message=message,
        resource=f"pypi:{m.package}@{m.installed}:{adv.id}",
        looked_at="installed package against OSV advisory",
        values={
            "advisory": adv.id,
            "aliases": list(adv.aliases),
            "installed": m.installed,
            "fixed": m.fixed,
            "cvss": adv.score,
            "label": adv.label,
            "published": adv.published.isoformat() if adv.published else None,
        },
    )


@check("DEP-001")
def high_fixes_within_14_days(ctx: DependencyContext) -> list[Finding]:
    out = []
    for m in ctx.vulnerable():
        adv = m.advisory
        if not adv.high_or_critical or m.fixed is None:
            continue
        published = adv.published or adv.modified
        overdue = published is None or ctx.now - published > FIX_WINDOW
        if overdue:
            out.append(
                _vuln_finding(
                    m,
                    Status.FAIL,
                    f"{adv.id} (score {adv.score or adv.label or 'none'}) fixed in "
                    f"{m.fixed}, published over 14 days ago, not applied",
                )
            )
        else:
            out.append(_vuln_finding(m, Status.PASS, f"{adv.id} fixed in {m.fixed}; still inside the 14-day window"))
    if not out:
        out.append(
            Finding(
                status=Status.PASS,
                message=f"no high/critical fix outstanding in {len(ctx.installed)} "
                f"packages against {len(ctx.advisories or [])} advisories",
                resource="python-environment",
                looked_at="installed packages against OSV advisories",
                values={"packages": len(ctx.installed), "advisories": len(ctx.advisories or [])},
            )
        )
    return out


@check("DEP-002")
def no_known_vulnerabilities(ctx: DependencyContext) -> list[Finding]:
    out = [
        _vuln_finding(
            m,
            Status.FAIL,
            f"{m.advisory.id} affects {m.package} {m.installed}"
            + (f"; fixed in {m.fixed}" if m.fixed else "; no fix yet"),
        )
        for m in ctx.vulnerable()
    ]
    if not out:
        out.append(
            Finding(
                status=Status.PASS,
                message="no installed package matches an advisory",
                resource="python-environment",
                looked_at="installed packages against OSV advisories",
                values={"packages": len(ctx.installed), "advisories": len(ctx.advisories or [])},
            )
        )
    return out


@check("DEP-003")
def python_supported(ctx: DependencyContext) -> Finding:
    eol = ctx.support.get("python", {}).get(ctx.python_version)
    if eol is None:
        return Finding(
            status=Status.FAIL,
            message=f"Python {ctx.python_version} has no known support window",
            resource=f"python:{ctx.python_version}",
            looked_at="support.toml [python]",
        )
    ok = isinstance(eol, date) and eol > ctx.now.date()
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=f"Python {ctx.python_version} supported until {eol}"
        if ok
        else f"Python {ctx.python_version} out of support since {eol}",
        resource=f"python:{ctx.python_version}",
        looked_at="support.toml [python]",
        values={"version": ctx.python_version, "end_of_support": str(eol)},
    )


@check("DEP-004")
def libraries_supported(ctx: DependencyContext) -> list[Finding]:
    out = []
    for rule in ctx.support.get("library", []):
        name = normalise_name(rule["name"])
        installed = ctx.installed.get(name)
        if installed is None:
            continue
        try:
            unsupported = parse_version(installed) < parse_version(str(rule["below"]))
        except ValueError:
            unsupported = True
        since = rule.get("since")
        unsupported = unsupported and (since is None or since <= ctx.now.date())
        out.append(
            Finding(
                status=Status.FAIL if unsupported else Status.PASS,
                message=f"{name} {installed}: {rule.get('reason', 'unsupported')}"
                if unsupported
                else f"{name} {installed} in a supported series",
                resource=f"pypi:{name}@{installed}",
                looked_at="support.toml [[library]]",
                values={"installed": installed, "unsupported_below": str(rule["below"])},
            )
        )
    if not out:
        out.append(
            Finding(
                status=Status.PASS,
                message="no installed library in a listed unsupported series",
                resource="python-environment",
                looked_at="support.toml [[library]]",
            )
        )
    return out


def _lock(ctx: DependencyContext) -> dict[str, Any]:
    if ctx.lock_file is None or not ctx.lock_file.is_file():
        raise InputMissingError("uv.lock not found")
    with ctx.lock_file.open("rb") as fh:
        return tomllib.load(fh)


@check("DEP-005")
def lock_present(ctx: DependencyContext) -> Finding:
    present = ctx.lock_file is not None and ctx.lock_file.is_file()
    count = len(_lock(ctx).get("package", [])) if present else 0
    return Finding(
        status=Status.PASS if present and count else Status.FAIL,
        message=f"uv.lock pins {count} packages" if present else "no uv.lock: builds are not reproducible",
        resource="uv.lock",
        looked_at="lock file",
        values={"packages": count},
    )


@check("DEP-006")
def lock_hash_pinned(ctx: DependencyContext) -> list[Finding]:
    out = []
    for pkg in _lock(ctx).get("package", []):
        source = pkg.get("source", {})
        if "registry" not in source and "url" not in source:
            continue  # the project itself (editable/virtual) or a path dependency
        artefacts = ([pkg["sdist"]] if "sdist" in pkg else []) + list(pkg.get("wheels", []))
        unhashed = [a.get("url", "?").rsplit("/", 1)[-1] for a in artefacts if not a.get("hash")]
        ok = bool(artefacts) and not unhashed
        out.append(
            Finding(
                status=Status.PASS if ok else Status.FAIL,
                message="every artefact hash-pinned"
                if ok
                else f"artefacts without a hash: {unhashed[:3] or 'no artefacts listed'}",
                resource=f"pypi:{normalise_name(pkg['name'])}@{pkg.get('version')}",
                looked_at="uv.lock",
                values={"artefacts": len(artefacts), "unhashed": len(unhashed)},
            )
        )
    return out or [
        Finding(
            status=Status.FAIL,
            message="lock file lists no registry packages",
            resource="uv.lock",
            looked_at="uv.lock",
        )
    ]


@check("DEP-007")
def installed_match_lock(ctx: DependencyContext) -> Finding:
    locked: dict[str, set[str]] = {}
    for p in _lock(ctx).get("package", []):
        if p.get("version"):  # the lock may hold several versions of one package (one per Python marker)
            locked.setdefault(normalise_name(p["name"]), set()).add(str(p["version"]))
    drift = sorted(
        f"{n} {v} (lock {'/'.join(sorted(locked[n]))})"
        for n, v in ctx.installed.items()
        if n in locked and v not in locked[n]
    )
    return Finding(
        status=Status.FAIL if drift else Status.PASS,
        message="installed packages match uv.lock"
        if not drift
        else f"{len(drift)} installed packages differ from uv.lock: {', '.join(drift[:5])}",
        resource="python-environment",
        looked_at="installed packages against uv.lock",
        values={"drift": drift},
    )
