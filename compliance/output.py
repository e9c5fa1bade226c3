"""Report renderers: table, JSON, SARIF 2.1.0, JUnit XML, HTML and Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import msgspec

from compliance.frameworks import checks_by_ref, frameworks
from compliance.model import Check, Report, Result, Severity, Status

FORMATS = ("table", "json", "sarif", "junit", "html", "md")
EXTENSIONS = {"table": "txt", "json": "json", "sarif": "sarif", "junit": "xml", "html": "html", "md": "md"}
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}


def render(report: Report, fmt: str) -> str:
    try:
        renderer: Callable[[Report], str] = _RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}") from None
    return renderer(report)


def to_json(report: Report) -> str:
    return msgspec.json.format(msgspec.json.encode(report).decode(), indent=2) + "\n"


def _label(r: Result) -> str:
    return f"{r.status.value}{' (waived)' if r.waived else ''}"


def to_table(report: Report) -> str:
    lines = [
        f"emon compliance report  {report.generated_at:%Y-%m-%d %H:%M:%S %Z}  env={report.environment}",
        "",
    ]
    width = max((len(r.resource) for r in report.results), default=10)
    width = min(max(width, 10), 48)
    lines.append(f"{'CHECK':9} {'SEV':8} {'STATUS':22} {'RESOURCE':{width}} MESSAGE")
    for r in sorted(report.results, key=_order):
        lines.append(f"{r.check_id:9} {r.severity.value:8} {_label(r):22} {r.resource[:width]:{width}} {r.message}")
    lines += [
        "",
        "Status: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(_label(r) for r in report.results).items())),
    ]
    lines += [
        "",
        f"{'FRAMEWORK':42} {'REQS':>5} {'COVERED':>8} {'PASS':>5} {'FAIL':>5} {'MANUAL':>7} {'ERROR':>6}",
    ]
    for fw in report.frameworks:
        lines.append(
            f"{fw.title[:42]:42} {fw.total:5} {fw.covered:8} {fw.passing:5} {fw.failing:5} {fw.manual:7} {fw.error:6}"
        )
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def _order(r: Result) -> tuple[int, int, str, str]:
    status_rank = {
        Status.FAIL: 0,
        Status.ERROR: 1,
        Status.MANUAL: 2,
        Status.PASS: 3,
        Status.NOT_APPLICABLE: 4,
    }
    return (status_rank[r.status] + (5 if r.waived else 0), -r.severity.rank, r.check_id, r.resource)


def to_sarif(report: Report) -> str:
    checks = {c.id: c for c in report.checks}
    rule_ids = sorted(checks)
    index = {cid: i for i, cid in enumerate(rule_ids)}
    rules = [_sarif_rule(checks[cid]) for cid in rule_ids]
    results = []
    for r in report.results:
        if r.status not in {Status.FAIL, Status.ERROR}:
            continue
        item: dict[str, Any] = {
            "ruleId": r.check_id,
            "ruleIndex": index[r.check_id],
            "kind": "fail",
            "level": _SARIF_LEVEL[r.severity] if r.status is Status.FAIL else "note",
            "message": {"text": f"{r.message} [{r.status.value}]"},
            "locations": [{"logicalLocations": [{"name": r.resource, "fullyQualifiedName": r.resource}]}],
            "partialFingerprints": {"emonFingerprint/v1": r.fingerprint},
            "properties": {"evidenceSha256": r.evidence.sha256, "lookedAt": r.evidence.looked_at},
        }
        if r.waived:
            item["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": f"{r.waived.justification} "
                    f"(approved by {r.waived.approver}, expires {r.waived.expires})",
                }
            ]
        results.append(item)
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "emon-compliance", "version": report.version, "rules": rules}},
                "invocations": [{"executionSuccessful": True, "endTimeUtc": report.generated_at.isoformat()}],
                "results": results,
                "properties": {"environment": report.environment, "surfaces": list(report.surfaces)},
            }
        ],
    }
    return msgspec.json.format(msgspec.json.encode(doc).decode(), indent=2) + "\n"


def _sarif_rule(c: Check) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": "".join(w.capitalize() for w in c.title.replace("-", " ").split() if w.isalnum())[:80] or c.id,
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": f"{c.evaluates}. Risk: {c.risk}"},
        "help": {"text": c.remediation},
        "defaultConfiguration": {"level": _SARIF_LEVEL[c.severity]},
        "properties": {
            "tags": ["security", c.surface.value, *c.references],
            "security-severity": _SECURITY_SEVERITY[c.severity],
        },
    }


def to_junit(report: Report) -> str:
    suites = ET.Element("testsuites", name="emon-compliance")
    by_surface: dict[str, list[Result]] = {}
    surface_of = {c.id: c.surface.value for c in report.checks}
    for r in report.results:
        by_surface.setdefault(surface_of.get(r.check_id, "other"), []).append(r)
    totals = Counter[str]()
    for surface, results in by_surface.items():
        suite = ET.SubElement(suites, "testsuite", name=f"compliance.{surface}")
        counts = Counter[str]()
        for r in results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"compliance.{surface}.{r.check_id}",
                name=f"{r.check_id} {r.resource}",
                time="0",
            )
            counts["tests"] += 1
            text = f"{r.message}\nseverity: {r.severity.value}\nevidence sha256: {r.evidence.sha256}"
            if r.waived:
                ET.SubElement(
                    case,
                    "skipped",
                    message=f"waived: {r.waived.justification} ({r.waived.approver}, expires {r.waived.expires})",
                )
                counts["skipped"] += 1
            elif r.status is Status.FAIL:
                ET.SubElement(case, "failure", message=r.message, type=r.severity.value).text = text
                counts["failures"] += 1
            elif r.status is Status.ERROR:
                ET.SubElement(case, "error", message=r.message, type="ERROR").text = text
                counts["errors"] += 1
            elif r.status in {Status.NOT_APPLICABLE, Status.MANUAL}:
                ET.SubElement(case, "skipped", message=f"{r.status.value}: {r.message}")
                counts["skipped"] += 1
        for key in ("tests", "failures", "errors", "skipped"):
            suite.set(key, str(counts[key]))
            totals[key] += counts[key]
    for key in ("tests", "failures", "errors", "skipped"):
        suites.set(key, str(totals[key]))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _grouped(report: Report) -> dict[str, Any]:
    """Results grouped by CAF objective and by Cyber Essentials control, for the HTML and Markdown reports."""
    by_ref = checks_by_ref()
    results_by_check: dict[str, list[Result]] = {}
    for r in report.results:
        results_by_check.setdefault(r.check_id, []).append(r)
    checks = {c.id: c for c in report.checks}
    sections = []
    fws = frameworks()
    for fw_id, level in (("CAF", "objective"), ("CE", "control")):
        fw = fws[fw_id]
        summary = next((s for s in report.frameworks if s.id == fw_id), None)
        status_of = {r.id: r.status for r in summary.requirements} if summary else {}
        groups: dict[str, list[dict[str, Any]]] = {}
        for req in fw.requirements:
            key = req.group.split(" / ")[0] if level == "objective" else req.group
            ids = sorted(by_ref.get(fw.ref(req.id), []))
            groups.setdefault(key, []).append(
                {
                    "id": req.id,
                    "title": req.title,
                    "status": status_of.get(req.id, "manual"),
                    "mapped": len(ids),
                    "ran": sum(1 for i in ids if i in results_by_check),
                    "checks": [
                        {"check": checks[i], "results": sorted(results_by_check.get(i, []), key=_order)}
                        for i in ids
                        if i in checks
                    ],
                }
            )
        sections.append({"framework": fw, "level": level, "groups": groups})
    return {"report": report, "sections": sections, "counts": Counter(_label(r) for r in report.results)}


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True, default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_MD_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,  # HTML entities are valid Markdown, so escaping keeps raw HTML out of rendered reports
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_MD_ENV.filters["md"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")


def to_html(report: Report) -> str:
    return _ENV.get_template("report.html.j2").render(**_grouped(report))


def to_markdown(report: Report) -> str:
    return _MD_ENV.get_template("report.md.j2").render(**_grouped(report))


_RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": to_table,
    "json": to_json,
    "sarif": to_sarif,
    "junit": to_junit,
    "html": to_html,
    "md": to_markdown,
}
