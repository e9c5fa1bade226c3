"""Dependencies: OSV matching, CVSS v3 scores, the 14-day rule, support windows and the lock file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from compliance.model import Status
from compliance.osv import cvss3_base_score, load_advisories, matches, parse_advisory
from compliance.runner import Inputs
from compliance.surfaces.dependencies import DependencyContext, build_context, load_support
from compliance.versions import SimpleVersion, os_version_tuple, parse_version

from .conftest import DATA, only, results, statuses

NOW = datetime(2026, 11, 26, tzinfo=UTC)
ADVISORIES = load_advisories(DATA / "osv")
REPO_LOCK = Path(__file__).resolve().parents[2] / "uv.lock"


def ctx(installed: dict[str, str], *, advisories: bool = True, python: str = "3.12", lock: Path | None = REPO_LOCK):
    return DependencyContext(
        installed=installed,
        advisories=ADVISORIES if advisories else None,
        lock_file=lock,
        support=load_support(),
        python_version=python,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N", 4.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss3_base_scores_match_the_specification(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


def test_cvss_rejects_a_non_v3_vector() -> None:
    with pytest.raises(ValueError, match="CVSS v3"):
        cvss3_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P")


def test_osv_ranges_versions_and_last_affected() -> None:
    by_id = {a.id: a for a in ADVISORIES}
    medium = by_id["EMON-TEST-0002"]
    assert matches(medium, "example-pkg", "1.2.0").fixed == "1.4.2"  # names normalised (Example_Pkg)
    assert matches(medium, "example-pkg", "1.4.2") is None
    assert matches(medium, "example-pkg", "0.9") is None
    assert matches(by_id["EMON-TEST-0003"], "example-pkg", "2.0") is not None
    assert matches(by_id["EMON-TEST-0004"], "oldlib", "0.9").fixed is None
    assert matches(by_id["EMON-TEST-0004"], "oldlib", "1.0") is None
    assert by_id["EMON-TEST-0003"].high_or_critical  # no score at all counts as high
    assert by_id["EMON-TEST-0004"].high_or_critical  # database label CRITICAL
    assert not medium.high_or_critical


def test_malformed_advisory_data_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="invalid advisory file"):
        load_advisories(bad)
    with pytest.raises(KeyError):
        parse_advisory({"summary": "no id"})


async def test_dep001_fails_a_high_fix_older_than_14_days_and_passes_once_applied() -> None:
    failing = await results("DEP-001", ctx({"msgspec": "0.19.0"}))
    assert only(r.status for r in failing) is Status.FAIL
    assert failing[0].resource == "pypi:msgspec@0.19.0:EMON-TEST-0001"
    assert only(await statuses("DEP-001", ctx({"msgspec": "999.0"}))) is Status.PASS


async def test_dep001_allows_a_fix_still_inside_the_14_day_window() -> None:
    found = await results("DEP-001", ctx({"example-pkg": "2.0"}))  # EMON-TEST-0003 published 6 days before NOW
    assert only(r.status for r in found) is Status.PASS
    assert "14-day window" in found[0].message


async def test_dep002_fails_any_known_vulnerability() -> None:
    assert only(await statuses("DEP-002", ctx({"example-pkg": "1.2.0"}))) is Status.FAIL
    assert only(await statuses("DEP-002", ctx({"example-pkg": "1.4.2"}))) is Status.PASS


async def test_without_advisory_data_vulnerability_checks_report_error_never_pass() -> None:
    for check_id in ("DEP-001", "DEP-002"):
        assert only(await statuses(check_id, ctx({"msgspec": "0.19.0"}, advisories=False))) is Status.ERROR


async def test_the_real_environment_is_caught_by_the_test_advisory() -> None:
    real = build_context(Inputs(advisories=DATA / "osv", now=NOW))
    found = await results("DEP-001", real)
    assert any(r.status is Status.FAIL and r.resource.startswith("pypi:msgspec@") for r in found)


async def test_dep003_python_support_window() -> None:
    assert only(await statuses("DEP-003", ctx({}, python="3.8"))) is Status.FAIL
    assert only(await statuses("DEP-003", ctx({}, python="2.7"))) is Status.FAIL
    assert only(await statuses("DEP-003", ctx({}, python="3.12"))) is Status.PASS


async def test_dep004_unsupported_library_series() -> None:
    assert only(await statuses("DEP-004", ctx({"litestar": "1.51.16"}))) is Status.FAIL
    assert only(await statuses("DEP-004", ctx({"litestar": "2.25.0"}))) is Status.PASS


async def test_dep005_lock_file_present(tmp_path: Path) -> None:
    assert only(await statuses("DEP-005", ctx({}, lock=tmp_path / "uv.lock"))) is Status.FAIL
    assert only(await statuses("DEP-005", ctx({}))) is Status.PASS


async def test_dep006_every_locked_artefact_has_a_hash(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n[[package]]\nname = "hashed"\nversion = "1.0"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        'sdist = { url = "https://x/hashed-1.0.tar.gz", hash = "sha256:00" }\n'
        '[[package]]\nname = "loose"\nversion = "2.0"\nsource = { registry = "https://pypi.org/simple" }\n'
        'wheels = [{ url = "https://x/loose-2.0-py3-none-any.whl" }]\n'
        '[[package]]\nname = "emon"\nversion = "0.1.0"\nsource = { editable = "." }\n'
    )
    found = {r.resource: r.status for r in await results("DEP-006", ctx({}, lock=lock))}
    assert found == {"pypi:hashed@1.0": Status.PASS, "pypi:loose@2.0": Status.FAIL}
    assert only(await statuses("DEP-006", ctx({}))) is Status.PASS


async def test_dep007_installed_versions_match_the_lock() -> None:
    assert only(await statuses("DEP-007", ctx({"msgspec": "0.0.1"}))) is Status.FAIL
    real = build_context(Inputs(now=NOW))
    found = await results("DEP-007", real)
    assert only(r.status for r in found) is Status.PASS, found[0].message


def test_pep440_subset_orders_like_packaging() -> None:
    ordered = ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "2.0", "1!0.5"]
    simple = [SimpleVersion(v) for v in ordered]
    assert simple == sorted(simple)
    real = [parse_version(v) for v in ordered]
    assert real == sorted(real)
    assert SimpleVersion("1.0.0") == SimpleVersion("1.0")
    with pytest.raises(ValueError, match="invalid version"):
        SimpleVersion("not a version")


def test_os_versions_compare_numerically() -> None:
    assert os_version_tuple("14") < os_version_tuple("14.1") < os_version_tuple("Wear OS 15")
    assert os_version_tuple("5.0") == os_version_tuple("5")
