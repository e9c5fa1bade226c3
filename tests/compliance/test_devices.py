"""evaluate_device is a pure function of posture, policy and time; the device checks report per device."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest

from compliance.devices import (
    Attestation,
    DeviceCompliance,
    DevicePosture,
    DeviceState,
    PolicyNotInForceError,
    PolicyStatus,
    evaluate_device,
    fleet_summary,
    load_policy,
    load_postures,
)
from compliance.model import Status
from compliance.runner import Inputs
from compliance.surfaces.devices import build_context

from .conftest import DATA, only, statuses

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = load_policy()


def watch(**changes: Any) -> DevicePosture:
    good = DevicePosture(
        device_id="watch-1",
        platform="wearos",
        os_version="5.1",
        security_patch=date(2026, 11, 1),
        model="Galaxy Watch7",
        encrypted=True,
        screen_lock=True,
        rooted=False,
        reported_at=NOW - timedelta(hours=2),
        attestation=Attestation(
            kind="android_key",
            chain_valid=True,
            security_level="StrongBox",
            verified_boot_state="VERIFIED",
            bootloader_locked=True,
            device_integrity=True,
        ),
    )
    return msgspec.structs.replace(good, **changes)


def attest(**changes: Any) -> Attestation:
    assert watch().attestation is not None
    return msgspec.structs.replace(watch().attestation, **changes)


def test_shipped_policy_is_published_and_in_force() -> None:
    assert POLICY.status is PolicyStatus.PUBLISHED
    assert POLICY.published_by
    assert POLICY.in_force(NOW)


def test_a_good_watch_is_compliant() -> None:
    result = evaluate_device(watch(), POLICY, NOW)
    assert result.state is DeviceState.COMPLIANT
    assert result.reasons == []


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"platform": "tizen", "os_version": "5.5"}, "os_supported"),
        ({"os_version": "4.0"}, "os_version"),
        ({"security_patch": date(2026, 9, 1)}, "patch_level"),
        ({"security_patch": date(2026, 10, 1)}, "patch_level"),  # bulletin 2026-11-01 + 14 days has passed
        ({"security_patch": None}, "patch_level"),
        ({"attestation": None}, "attestation"),
        ({"attestation": attest(chain_valid=False)}, "attestation"),
        ({"attestation": attest(security_level="Software")}, "attestation"),
        ({"attestation": attest(kind="app_attest")}, "attestation"),
        ({"encrypted": False}, "encryption"),
        ({"screen_lock": None}, "screen_lock"),
        ({"rooted": True}, "not_rooted"),
        ({"attestation": attest(bootloader_locked=False)}, "not_rooted"),
        ({"attestation": attest(verified_boot_state="UNVERIFIED")}, "verified_boot"),
    ],
)
def test_each_rule_makes_a_device_non_compliant(changes: dict[str, Any], rule: str) -> None:
    result = evaluate_device(watch(**changes), POLICY, NOW)
    assert result.state is DeviceState.NON_COMPLIANT
    assert rule in {r.rule for r in result.rules if not r.ok}


def test_attested_os_version_wins_over_the_self_report() -> None:
    lying = watch(os_version="6.0", attestation=attest(os_version="4.0"))
    assert evaluate_device(lying, POLICY, NOW).state is DeviceState.NON_COMPLIANT


def test_patch_inside_the_grace_window_is_accepted() -> None:
    early = NOW.replace(day=10)  # bulletin 2026-11-01, 9 days ago
    policy = msgspec.structs.replace(POLICY, effective_from=date(2026, 11, 1))
    device = watch(security_patch=date(2026, 10, 1), reported_at=early - timedelta(hours=1))
    assert evaluate_device(device, policy, early).state is DeviceState.COMPLIANT


def test_no_data_or_stale_data_is_no_data_and_not_compliant() -> None:
    assert evaluate_device(None, POLICY, NOW).state is DeviceState.NO_DATA
    stale = evaluate_device(watch(reported_at=NOW - timedelta(days=5)), POLICY, NOW)
    assert stale.state is DeviceState.NO_DATA
    assert not stale.compliant


def test_ios_without_patch_level_is_judged_on_version() -> None:
    phone = watch(
        platform="ios",
        os_version="18.1",
        security_patch=None,
        rooted=False,
        attestation=Attestation(kind="app_attest", chain_valid=True),
    )
    assert evaluate_device(phone, POLICY, NOW).state is DeviceState.COMPLIANT
    assert evaluate_device(msgspec.structs.replace(phone, os_version="16.7"), POLICY, NOW).state is (
        DeviceState.NON_COMPLIANT
    )


def test_a_draft_policy_cannot_be_enforced() -> None:
    draft = msgspec.structs.replace(POLICY, status=PolicyStatus.DRAFT)
    with pytest.raises(PolicyNotInForceError):
        evaluate_device(watch(), draft, NOW)
    future = msgspec.structs.replace(POLICY, effective_from=date(2027, 1, 1))
    with pytest.raises(PolicyNotInForceError):
        evaluate_device(watch(), future, NOW)


def test_fleet_summary_percentages_per_platform_and_os_version() -> None:
    judged: list[DeviceCompliance] = [
        evaluate_device(watch(device_id="a"), POLICY, NOW),
        evaluate_device(watch(device_id="b", os_version="4"), POLICY, NOW),
        evaluate_device(watch(device_id="c", reported_at=None), POLICY, NOW),
        evaluate_device(watch(device_id="d", platform="tizen", os_version="5.5"), POLICY, NOW),
    ]
    summary = fleet_summary(judged)
    assert summary.overall.total == 4
    assert summary.overall.compliant == 1
    assert summary.overall.no_data == 1
    assert summary.overall.percent_compliant == 25.0
    assert summary.by_platform["wearos"].percent_compliant == pytest.approx(33.3)
    assert summary.by_platform["tizen"].compliant == 0
    assert summary.by_os_version["wearos 5.1"].percent_compliant == 50.0  # one of them sent no current data


def test_devices_file_round_trip() -> None:
    postures = load_postures(DATA / "devices.json")
    assert {p.device_id for p in postures} >= {"watch-good", "watch-tizen"}
    with pytest.raises(ValueError, match="invalid devices file"):
        load_postures(DATA / "sarif-schema-2.1.0.json")


# --- the device surface checks: FAIL on a bad device or policy, PASS on a good one ---

DEVICE_RULE_CHECKS = {
    "DEV-003": {"encrypted": False},
    "DEV-004": {"platform": "tizen", "os_version": "5.5"},
    "DEV-005": {"security_patch": date(2026, 8, 1)},
    "DEV-006": {"attestation": None},
    "DEV-007": {"screen_lock": False},
    "DEV-008": {"rooted": True},
    "DEV-009": {"reported_at": NOW - timedelta(days=7)},
}


def _ctx(postures: list[DevicePosture] | None, policy: Any = None) -> Any:
    return build_context(Inputs(devices=postures, device_policy=policy or POLICY, now=NOW))


@pytest.mark.parametrize(("check_id", "bad"), sorted(DEVICE_RULE_CHECKS.items()))
async def test_device_checks_fail_on_a_bad_device_and_pass_on_a_good_one(check_id: str, bad: dict[str, Any]) -> None:
    assert only(await statuses(check_id, _ctx([watch(**bad)]))) is Status.FAIL
    assert only(await statuses(check_id, _ctx([watch()]))) is Status.PASS


async def test_device_checks_without_a_device_list_report_error() -> None:
    assert only(await statuses("DEV-003", _ctx(None))) is Status.ERROR


async def test_policy_checks() -> None:
    assert only(await statuses("DEV-001", _ctx([]))) is Status.PASS
    draft = msgspec.structs.replace(POLICY, status=PolicyStatus.DRAFT)
    assert only(await statuses("DEV-001", _ctx([], draft))) is Status.FAIL
    assert only(await statuses("DEV-002", _ctx([]))) is Status.PASS
    lax = msgspec.structs.replace(POLICY, patch_grace_days=30, require_attestation=False)
    assert only(await statuses("DEV-002", _ctx([], lax))) is Status.FAIL


def test_the_device_gate_imports_without_database_or_http() -> None:
    import subprocess
    import sys

    code = (
        "import sys, compliance; from compliance import evaluate_device, load_policy; "
        "bad = [m for m in ('sqlalchemy', 'httpx', 'litestar', 'jinja2') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
