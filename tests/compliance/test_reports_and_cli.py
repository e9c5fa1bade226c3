"""Waivers, baselines, report formats and the CLI's exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from compliance.cli import compliance
from compliance.errors import ExpiredWaiverError, InputError
from compliance.model import Report, Result, Status, evidence_for, fingerprint
from compliance.output import render, to_json
from compliance.registry import definitions
from compliance.waivers import apply_waivers, load_baseline, load_waivers

from .conftest import DATA

TODAY = date(2026, 11, 26)
KNOWN = set(definitions())


def result(check_id: str, status: Status, resource: str = "settings", message: str = "m") -> Result:
    return Result(
        check_id=check_id,
        status=status,
        severity=definitions()[check_id].severity,
        resource=resource,
        message=message,
        evidence=evidence_for("settings", {"v": 1}),
        fingerprint=fingerprint(check_id, resource),
    )


def report(*results: Result) -> Report:
    from compliance.frameworks import summarise

    checks = tuple(definitions()[c] for c in sorted({r.check_id for r in results}))
    return Report(
        generated_at=datetime(2026, 11, 26, tzinfo=UTC),
        environment="production",
        surfaces=("config",),
        checks=checks,
        results=results,
        frameworks=tuple(summarise(results)),
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


WAIVER = """
[[waiver]]
check = "DEP-002"
resource = "pypi:example-pkg@*"
justification = "Not reachable: the vulnerable parser is unused"
approver = "Security Lead"
expires = {expires}
"""


def test_a_waiver_marks_matching_failures_and_keeps_them_in_the_report(tmp_path: Path) -> None:
    waivers = load_waivers(write(tmp_path / "w.toml", WAIVER.format(expires="2027-01-31")), KNOWN, TODAY)
    r = report(
        result("DEP-002", Status.FAIL, "pypi:example-pkg@1.2.0:X"), result("DEP-002", Status.FAIL, "pypi:other@1:Y")
    )
    waived = apply_waivers(r, waivers)
    assert len(waived.results) == 2
    by_resource = {x.resource: x for x in waived.results}
    assert by_resource["pypi:example-pkg@1.2.0:X"].waived is not None
    assert by_resource["pypi:other@1:Y"].waived is None


@pytest.mark.parametrize(
    "text",
    [
        "not toml [",
        WAIVER.format(expires="2027-01-31").replace('approver = "Security Lead"', ""),
        WAIVER.format(expires="2027-01-31").replace("DEP-002", "NOPE-1"),
        WAIVER.format(expires='"tomorrow"'),
        WAIVER.format(expires="2027-01-31") + 'extra = "field"\n',
    ],
)
def test_malformed_waivers_are_input_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError):
        load_waivers(write(tmp_path / "w.toml", text), KNOWN, TODAY)


def test_an_expired_waiver_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(ExpiredWaiverError, match="expired"):
        load_waivers(write(tmp_path / "w.toml", WAIVER.format(expires="2026-01-01")), KNOWN, TODAY)


def test_sarif_validates_against_the_official_schema() -> None:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    r = report(result("CFG-011", Status.FAIL), result("CFG-008", Status.PASS), result("CFG-010", Status.ERROR))
    doc = json.loads(render(r, "sarif"))
    jsonschema.Draft4Validator(schema).validate(doc)
    assert doc["version"] == "2.1.0"
    assert {x["ruleId"] for x in doc["runs"][0]["results"]} == {"CFG-011", "CFG-010"}
    assert doc["runs"][0]["results"][0]["partialFingerprints"]["emonFingerprint/v1"]


def test_junit_parses_with_failures_errors_and_skips() -> None:
    r = report(
        result("CFG-011", Status.FAIL),
        result("CFG-008", Status.PASS),
        result("CFG-010", Status.ERROR),
        result("CFG-001", Status.NOT_APPLICABLE),
    )
    root = ET.fromstring(render(r, "junit"))  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4"
    assert suite.get("failures") == "1"
    assert suite.get("errors") == "1"
    assert suite.get("skipped") == "1"
    assert len(root.findall(".//testcase/failure")) == 1


def test_html_is_escaped_and_grouped_by_caf_objective_and_ce_control() -> None:
    r = report(result("CFG-011", Status.FAIL, message="<script>alert(1)</script>"))
    html = render(r, "html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "B Protecting against cyber attack" in html
    assert "User access control" in html
    md = render(r, "md")
    assert "## NCSC Cyber Assessment Framework 4.0 by objective" in md
    assert "&lt;script&gt;" in md


def test_json_report_round_trips_as_a_baseline(tmp_path: Path) -> None:
    r = report(result("CFG-011", Status.FAIL), result("CFG-008", Status.PASS))
    path = write(tmp_path / "baseline.json", to_json(r))
    assert load_baseline(path) == {fingerprint("CFG-011", "settings")}
    with pytest.raises(InputError):
        load_baseline(write(tmp_path / "junk.json", "[1, 2]"))


# --- the CLI ---


def invoke(args: list[str], obj: dict[str, Any] | None = None) -> Any:
    return CliRunner().invoke(compliance, args, obj=obj or {}, catch_exceptions=False)


def devices_file(tmp_path: Path, good_only: bool) -> Path:
    data = json.loads((DATA / "devices.json").read_text())
    if good_only:
        data = [d for d in data if d["device_id"] == "watch-good"]
    return write(tmp_path / "devices.json", json.dumps(data))


def test_check_exits_3_on_failures_and_0_when_clean(tmp_path: Path) -> None:
    bad = invoke(["check", "--surfaces", "devices", "--devices", str(devices_file(tmp_path, False))])
    assert bad.exit_code == 3, bad.output
    assert "DEV-004" in bad.output
    good = invoke(["check", "--surfaces", "devices", "--devices", str(devices_file(tmp_path, True))])
    assert good.exit_code == 0, good.output


def test_fail_on_threshold(tmp_path: Path) -> None:
    # the bad watch fails critical checks, so even --fail-on critical gates
    assert (
        invoke(
            ["check", "--surfaces", "devices", "--devices", str(devices_file(tmp_path, False)), "--fail-on", "critical"]
        ).exit_code
        == 3
    )


def test_baseline_new_only_passes_known_findings(tmp_path: Path) -> None:
    devices = str(devices_file(tmp_path, False))
    out = tmp_path / "first.json"
    first = invoke(["check", "--surfaces", "devices", "--devices", devices, "--format", "json", "--output", str(out)])
    assert first.exit_code == 3
    again = invoke(["check", "--surfaces", "devices", "--devices", devices, "--baseline", str(out), "--new-only"])
    assert again.exit_code == 0, again.output


def test_bad_arguments_and_files_exit_2_with_one_line(tmp_path: Path) -> None:
    for args in (
        ["check", "--surfaces", "nonsense"],
        ["check", "--waivers", str(tmp_path / "missing.toml")],
        ["check", "--new-only"],
        ["check", "--surfaces", "devices", "--devices", str(write(tmp_path / "d.json", "{oops"))],
        ["check", "--surfaces", "dependencies", "--advisories", str(write(tmp_path / "a.json", "{oops"))],
        ["check", "--surfaces", "devices", "--baseline", str(write(tmp_path / "b.json", "nope"))],
    ):
        res = invoke(args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1, res.output


def test_expired_waiver_exits_4(tmp_path: Path) -> None:
    waivers = write(tmp_path / "w.toml", WAIVER.format(expires="2020-01-01"))
    res = invoke(["check", "--surfaces", "devices", "--waivers", str(waivers)])
    assert res.exit_code == 4
    assert "expired" in res.output


def test_several_formats_written_next_to_the_output_stem(tmp_path: Path) -> None:
    stem = tmp_path / "report"
    res = invoke(
        [
            "check",
            "--surfaces",
            "devices",
            "--devices",
            str(devices_file(tmp_path, True)),
            "--format",
            "json",
            "--format",
            "sarif",
            "--format",
            "junit",
            "--format",
            "html",
            "--format",
            "md",
            "--output",
            str(stem),
        ]
    )
    assert res.exit_code == 0, res.output
    for ext in ("json", "sarif", "xml", "html", "md"):
        assert (tmp_path / f"report.{ext}").stat().st_size > 100


def test_config_surface_through_the_cli_with_injected_settings(good_settings: Any) -> None:
    from .test_config_surface import good_app

    res = invoke(
        ["check", "--surfaces", "config", "--format", "json"],
        obj={"settings": good_settings, "create_app": lambda s: good_app()},
    )
    doc = json.loads(res.output)
    failing = [r for r in doc["results"] if r["status"] == "FAIL"]
    assert not failing, failing
    assert res.exit_code == 0
    assert not [r["check_id"] for r in doc["results"] if r["status"] == "ERROR"]


def test_dependencies_through_the_cli_catch_the_vulnerable_pin() -> None:
    res = invoke(["check", "--surfaces", "dependencies", "--advisories", str(DATA / "osv"), "--format", "json"])
    assert res.exit_code == 3
    doc = json.loads(res.output)
    assert any(r["check_id"] == "DEP-001" and r["status"] == "FAIL" for r in doc["results"])


def test_controls_and_devices_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listing = invoke(["controls"])
    assert listing.exit_code == 0
    assert "CFG-011" in listing.output
    caf = invoke(["controls", "--framework", "CAF"])
    assert "A1.a" in caf.output
    assert "MANUAL" in caf.output
    govs = invoke(["controls", "--framework", "GOVS007", "--format", "json"])
    assert json.loads(govs.output)[0]["caf"]
    fleet = invoke(["devices", "--devices", str(DATA / "devices.json")])
    assert fleet.exit_code == 0
    assert "NON_COMPLIANT" in fleet.output
    assert "1/2 compliant (50.0%)" in fleet.output
    as_json = json.loads(invoke(["devices", "--devices", str(DATA / "devices.json"), "--format", "json"]).output)
    assert as_json["summary"]["overall"]["percent_compliant"] == 50.0
    # With no --devices, the CLI reads the default database relative to the working directory; run where there is
    # none, so a developer's `make run` database (var/emon.db) does not answer for it.
    monkeypatch.chdir(tmp_path)
    assert invoke(["devices"]).exit_code == 2


def test_a_crash_of_the_checker_itself_exits_1_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import compliance.cli

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(compliance.cli, "run", broken)
    res = invoke(["check", "--surfaces", "devices"])
    assert res.exit_code == 1
    assert res.output.strip() == "emon compliance: checker failed: RuntimeError: boom"
