"""Device-level compliance: a pure function of (posture, policy, now).

No database and no HTTP here, so the check-in service can import it to refuse a non-compliant watch, and
the compliance checker can use it to report on the fleet. Attested facts (key attestation, Play Integrity,
App Attest) win over what the device says about itself; no data counts as non-compliant.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from compliance.versions import os_version_tuple

DEFAULT_POLICY_FILE = Path(__file__).parent / "policies" / "device_policy.toml"


class DeviceState(enum.StrEnum):
    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NO_DATA = "NO_DATA"


class PolicyStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"


class Attestation(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict of an attestation that the security package has already verified (or failed to)."""

    kind: str  # android_key | play_integrity | app_attest
    chain_valid: bool  # signature chain verified to the vendor root
    security_level: str | None = None  # TEE | StrongBox | Software
    verified_boot_state: str | None = None  # VERIFIED | SELF_SIGNED | UNVERIFIED | FAILED
    bootloader_locked: bool | None = None
    device_integrity: bool | None = None  # Play Integrity MEETS_DEVICE_INTEGRITY
    os_version: str | None = None
    security_patch: date | None = None
    issued_at: datetime | None = None


class DevicePosture(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    platform: str  # android | ios | wearos | watchos | tizen | ...
    os_version: str | None = None
    security_patch: date | None = None
    model: str | None = None
    encrypted: bool | None = None
    screen_lock: bool | None = None
    rooted: bool | None = None  # self-reported; attestation overrides it
    attestation: Attestation | None = None
    reported_at: datetime | None = None


class PlatformRule(msgspec.Struct, frozen=True, kw_only=True):
    supported: bool = True
    min_os_version: str | None = None
    end_of_support: date | None = None
    patch_level_reported: bool = True
    latest_bulletin: date | None = None
    attestation_kinds: tuple[str, ...] = ()
    min_security_level: str | None = None  # TEE or StrongBox
    note: str = ""


class DevicePolicy(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    status: PolicyStatus
    published_by: str | None = None
    published_at: datetime | None = None
    effective_from: date
    patch_grace_days: int = 14
    max_patch_age_days: int = 75
    max_posture_age_hours: int = 48
    require_attestation: bool = True
    require_encryption: bool = True
    require_screen_lock: bool = True
    require_verified_boot: bool = True
    platforms: dict[str, PlatformRule] = {}

    def in_force(self, now: datetime) -> bool:
        return self.status is PolicyStatus.PUBLISHED and self.effective_from <= now.date()


class RuleOutcome(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    ok: bool
    reason: str


class DeviceCompliance(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    platform: str
    os_version: str | None
    state: DeviceState
    policy_version: int
    rules: tuple[RuleOutcome, ...] = ()

    @property
    def compliant(self) -> bool:
        return self.state is DeviceState.COMPLIANT

    @property
    def reasons(self) -> list[str]:
        return [r.reason for r in self.rules if not r.ok]


class PolicyNotInForceError(ValueError):
    pass


RULES = (
    "data",
    "os_supported",
    "os_version",
    "patch_level",
    "attestation",
    "encryption",
    "screen_lock",
    "not_rooted",
    "verified_boot",
)
_SECURITY_LEVELS = {"software": 0, "tee": 1, "trustedenvironment": 1, "strongbox": 2}


def load_policy(path: Path | str = DEFAULT_POLICY_FILE) -> DevicePolicy:
    """Read a device policy TOML file; raises ValueError when it is malformed."""
    try:
        with Path(path).open("rb") as fh:
            raw = tomllib.load(fh)
        return msgspec.convert(raw, DevicePolicy, strict=False)
    except (OSError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"invalid device policy {Path(path).name}: {exc}") from exc


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def evaluate_device(posture: DevicePosture | None, policy: DevicePolicy, now: datetime) -> DeviceCompliance:
    """Judge one device against a published policy.

    ``posture`` may be None (nothing ever reported): the result is NO_DATA, which is not compliant. A stale
    report (older than ``max_posture_age_hours``) is NO_DATA too. Raises :class:`PolicyNotInForceError` for a
    draft policy or one whose effective date has not come, so a caller cannot enforce rules nobody published.
    """
    now = _aware(now)
    if not policy.in_force(now):
        raise PolicyNotInForceError(
            f"device policy v{policy.version} is {policy.status.value}, effective {policy.effective_from}"
        )
    if posture is None:
        return DeviceCompliance(
            device_id="unknown",
            platform="unknown",
            os_version=None,
            state=DeviceState.NO_DATA,
            policy_version=policy.version,
            rules=(RuleOutcome(rule="data", ok=False, reason="no posture reported"),),
        )
    att = posture.attestation
    os_version = (att.os_version if att and att.chain_valid and att.os_version else None) or posture.os_version
    patch = (att.security_patch if att and att.chain_valid and att.security_patch else None) or posture.security_patch

    def verdict(state: DeviceState, rules: tuple[RuleOutcome, ...]) -> DeviceCompliance:
        return DeviceCompliance(
            device_id=posture.device_id,
            platform=posture.platform,
            os_version=os_version,
            state=state,
            policy_version=policy.version,
            rules=rules,
        )

    stale = posture.reported_at is None or now - _aware(posture.reported_at) > timedelta(
        hours=policy.max_posture_age_hours
    )
    if stale or not os_version:
        why = (
            "no OS version reported"
            if not os_version
            else (
                "posture never reported"
                if posture.reported_at is None
                else f"posture older than {policy.max_posture_age_hours} h"
            )
        )
        return verdict(DeviceState.NO_DATA, (RuleOutcome(rule="data", ok=False, reason=why),))

    rules: list[RuleOutcome] = [RuleOutcome(rule="data", ok=True, reason="posture is current")]
    add = rules.append
    platform = policy.platforms.get(posture.platform.lower())

    if (
        platform is None
        or not platform.supported
        or (platform.end_of_support and platform.end_of_support <= now.date())
    ):
        why = (
            "platform not in the policy"
            if platform is None
            else f"{posture.platform} is out of vendor support" + (f" ({platform.note})" if platform.note else "")
        )
        add(RuleOutcome(rule="os_supported", ok=False, reason=why))
    else:
        add(RuleOutcome(rule="os_supported", ok=True, reason=f"{posture.platform} supported"))

    if platform and platform.min_os_version:
        try:
            ok = os_version_tuple(os_version) >= os_version_tuple(platform.min_os_version)
            why = f"OS {os_version} {'>=' if ok else '<'} minimum {platform.min_os_version}"
        except ValueError:
            ok, why = False, f"unreadable OS version {os_version!r}"
        add(RuleOutcome(rule="os_version", ok=ok, reason=why))
    else:
        add(
            RuleOutcome(
                rule="os_version",
                ok=platform is not None and platform.supported,
                reason="no minimum version set" if platform else "platform not in the policy",
            )
        )

    if platform is not None and platform.patch_level_reported:
        add(_patch_rule(patch, platform, policy, now.date()))

    add(_attestation_rule(att, platform, policy))
    if policy.require_encryption:
        add(
            RuleOutcome(
                rule="encryption",
                ok=posture.encrypted is True,
                reason="storage encrypted" if posture.encrypted else "storage encryption off or unknown",
            )
        )
    if policy.require_screen_lock:
        add(
            RuleOutcome(
                rule="screen_lock",
                ok=posture.screen_lock is True,
                reason="screen lock set" if posture.screen_lock else "no screen lock or unknown",
            )
        )

    valid = att is not None and att.chain_valid
    rooted = posture.rooted is True or (
        valid and (att.bootloader_locked is False or att.device_integrity is False)  # type: ignore[union-attr]
    )
    known_clean = posture.rooted is False or (
        valid and (att.bootloader_locked is True or att.device_integrity is True)  # type: ignore[union-attr]
    )
    add(
        RuleOutcome(
            rule="not_rooted",
            ok=not rooted and known_clean,
            reason="rooted, jailbroken or bootloader unlocked"
            if rooted
            else ("not rooted" if known_clean else "root status unknown"),
        )
    )

    if policy.require_verified_boot:
        state = (att.verified_boot_state or "").upper() if att and att.chain_valid else ""
        ok = state == "VERIFIED" or (att is not None and att.chain_valid and att.kind == "app_attest")
        add(
            RuleOutcome(
                rule="verified_boot",
                ok=ok,
                reason="verified boot attested" if ok else f"verified boot not attested ({state or 'no attestation'})",
            )
        )

    state = DeviceState.COMPLIANT if all(r.ok for r in rules) else DeviceState.NON_COMPLIANT
    return verdict(state, tuple(rules))


def _patch_rule(patch: date | None, platform: PlatformRule, policy: DevicePolicy, today: date) -> RuleOutcome:
    if patch is None:
        return RuleOutcome(rule="patch_level", ok=False, reason="security patch level not reported")
    age = (today - patch).days
    if age > policy.max_patch_age_days:
        return RuleOutcome(
            rule="patch_level",
            ok=False,
            reason=f"security patch {patch} is {age} days old (limit {policy.max_patch_age_days})",
        )
    bulletin = platform.latest_bulletin
    if bulletin and today > bulletin + timedelta(days=policy.patch_grace_days) and patch < bulletin:
        return RuleOutcome(
            rule="patch_level",
            ok=False,
            reason=f"security patch {patch} older than bulletin {bulletin} + {policy.patch_grace_days} days",
        )
    return RuleOutcome(rule="patch_level", ok=True, reason=f"security patch {patch}")


def _attestation_rule(att: Attestation | None, platform: PlatformRule | None, policy: DevicePolicy) -> RuleOutcome:
    if not policy.require_attestation:
        return RuleOutcome(rule="attestation", ok=True, reason="attestation not required by policy")
    if att is None:
        return RuleOutcome(rule="attestation", ok=False, reason="no attestation")
    if not att.chain_valid:
        return RuleOutcome(
            rule="attestation", ok=False, reason=f"{att.kind} attestation not verified to the vendor root"
        )
    if platform and platform.attestation_kinds and att.kind not in platform.attestation_kinds:
        return RuleOutcome(rule="attestation", ok=False, reason=f"attestation kind {att.kind} not accepted")
    if platform and platform.min_security_level:
        have = _SECURITY_LEVELS.get((att.security_level or "software").lower(), 0)
        need = _SECURITY_LEVELS.get(platform.min_security_level.lower(), 1)
        if have < need:
            return RuleOutcome(
                rule="attestation",
                ok=False,
                reason=f"key security level {att.security_level} below {platform.min_security_level}",
            )
    if att.device_integrity is False:
        return RuleOutcome(rule="attestation", ok=False, reason="device integrity verdict failed")
    return RuleOutcome(rule="attestation", ok=True, reason=f"{att.kind} attestation valid")


class Share(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    compliant: int
    non_compliant: int
    no_data: int
    percent_compliant: float


class FleetSummary(msgspec.Struct, frozen=True, kw_only=True):
    overall: Share
    by_platform: dict[str, Share]
    by_os_version: dict[str, Share]


def _share(items: list[DeviceCompliance]) -> Share:
    total = len(items)
    compliant = sum(1 for d in items if d.state is DeviceState.COMPLIANT)
    no_data = sum(1 for d in items if d.state is DeviceState.NO_DATA)
    return Share(
        total=total,
        compliant=compliant,
        non_compliant=total - compliant - no_data,
        no_data=no_data,
        percent_compliant=round(100.0 * compliant / total, 1) if total else 0.0,
    )


def fleet_summary(devices: Iterable[DeviceCompliance]) -> FleetSummary:
    """Percentages compliant overall, per platform and per OS version (NO_DATA is not compliant)."""
    items = list(devices)
    by_platform: dict[str, list[DeviceCompliance]] = {}
    by_os: dict[str, list[DeviceCompliance]] = {}
    for d in items:
        by_platform.setdefault(d.platform, []).append(d)
        by_os.setdefault(f"{d.platform} {d.os_version or 'unknown'}", []).append(d)
    return FleetSummary(
        overall=_share(items),
        by_platform={k: _share(v) for k, v in sorted(by_platform.items())},
        by_os_version={k: _share(v) for k, v in sorted(by_os.items())},
    )


def load_postures(path: Path | str) -> list[DevicePosture]:
    """Device postures from a JSON file (a list of objects); raises ValueError when malformed."""
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=list[DevicePosture])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"invalid devices file {Path(path).name}: {exc}") from exc


def posture_from_dict(data: dict[str, Any]) -> DevicePosture:
    return msgspec.convert(data, DevicePosture, strict=False)
