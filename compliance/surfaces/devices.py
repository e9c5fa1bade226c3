"""Devices surface: the published device policy, and each device's posture judged by evaluate_device."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from compliance.devices import (
    DeviceCompliance,
    DevicePolicy,
    DevicePosture,
    DeviceState,
    PolicyNotInForceError,
    evaluate_device,
    load_policy,
)
from compliance.errors import InputMissingError
from compliance.model import Finding, Status
from compliance.registry import check


@dataclass
class DeviceContext:
    policy: DevicePolicy
    postures: list[DevicePosture] | None
    now: datetime
    _judged: list[DeviceCompliance] | None = field(default=None, repr=False)

    def judged(self) -> list[DeviceCompliance]:
        if self.postures is None:
            raise InputMissingError("no device list given (--devices FILE or a device provider)")
        if self._judged is None:
            self._judged = [evaluate_device(p, self.policy, self.now) for p in self.postures]
        return self._judged


def build_context(inputs: Any) -> DeviceContext:
    policy = inputs.device_policy if inputs.device_policy is not None else load_policy()
    return DeviceContext(policy=policy, postures=inputs.devices, now=inputs.now)


def _policy_finding(ok: bool, good: str, bad: str, **values: Any) -> Finding:
    return Finding(
        status=Status.PASS if ok else Status.FAIL,
        message=good if ok else bad,
        resource="device-policy",
        looked_at="device policy",
        values=values,
    )


@check("DEV-001")
def policy_in_force(ctx: DeviceContext) -> Finding:
    p = ctx.policy
    ok = p.in_force(ctx.now) and bool(p.published_by)
    return _policy_finding(
        ok,
        f"device policy v{p.version} published by {p.published_by}, effective {p.effective_from}",
        f"device policy v{p.version} is {p.status.value} (effective {p.effective_from}, "
        f"published by {p.published_by or 'nobody'})",
        version=p.version,
        status=p.status.value,
        effective_from=str(p.effective_from),
    )


@check("DEV-002")
def policy_rules_strict(ctx: DeviceContext) -> Finding:
    p = ctx.policy
    problems = []
    if p.patch_grace_days > 14:
        problems.append(f"patch grace {p.patch_grace_days} days > 14")
    for flag in ("require_attestation", "require_encryption", "require_screen_lock", "require_verified_boot"):
        if not getattr(p, flag):
            problems.append(f"{flag} is off")
    for name, rule in p.platforms.items():
        if rule.supported and not rule.min_os_version:
            problems.append(f"{name}: supported without a minimum OS version")
        if rule.supported and rule.patch_level_reported and rule.latest_bulletin is None:
            problems.append(f"{name}: no latest security bulletin recorded")
    if not p.platforms:
        problems.append("no platforms")
    return _policy_finding(
        not problems,
        "policy requires attestation, encryption, lock, verified boot, 14-day patching",
        "; ".join(problems),
        problems=problems,
    )


def _per_device(ctx: DeviceContext, rules: tuple[str, ...]) -> list[Finding]:
    try:
        judged = ctx.judged()
    except PolicyNotInForceError as exc:
        return [Finding(status=Status.ERROR, message=str(exc), looked_at="device policy")]
    out = []
    for d in judged:
        if d.state is DeviceState.NO_DATA and "data" not in rules:
            status, msg = Status.FAIL, "no current posture data (counts as non-compliant)"
        else:
            bad = [r.reason for r in d.rules if r.rule in rules and not r.ok]
            status, msg = (Status.FAIL, "; ".join(bad)) if bad else (Status.PASS, "meets " + ", ".join(rules))
        out.append(
            Finding(
                status=status,
                message=msg,
                resource=f"device:{d.device_id}",
                looked_at="device posture against policy",
                values={
                    "platform": d.platform,
                    "os_version": d.os_version,
                    "state": d.state.value,
                    "policy_version": d.policy_version,
                },
            )
        )
    if not out:
        out.append(Finding(status=Status.NOT_APPLICABLE, message="no devices enrolled", looked_at="device list"))
    return out


@check("DEV-003")
def devices_compliant(ctx: DeviceContext) -> list[Finding]:
    from compliance.devices import RULES

    return _per_device(ctx, RULES)


@check("DEV-004")
def os_supported(ctx: DeviceContext) -> list[Finding]:
    return _per_device(ctx, ("os_supported", "os_version"))


@check("DEV-005")
def patch_current(ctx: DeviceContext) -> list[Finding]:
    return _per_device(ctx, ("patch_level",))


@check("DEV-006")
def attested(ctx: DeviceContext) -> list[Finding]:
    return _per_device(ctx, ("attestation",))


@check("DEV-007")
def encrypted_and_locked(ctx: DeviceContext) -> list[Finding]:
    return _per_device(ctx, ("encryption", "screen_lock"))


@check("DEV-008")
def integrity(ctx: DeviceContext) -> list[Finding]:
    return _per_device(ctx, ("not_rooted", "verified_boot"))


@check("DEV-009")
def posture_current(ctx: DeviceContext) -> list[Finding]:
    return _per_device(ctx, ("data",))
