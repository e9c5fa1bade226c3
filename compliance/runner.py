"""Runs the checks of the chosen surfaces and turns findings into results with evidence."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compliance import registry
from compliance.errors import ComplianceError, InputMissingError, SettingMissingError
from compliance.model import Check, Finding, Report, Result, Status, Surface, evidence_for, fingerprint


@dataclass
class Inputs:
    """What a run may look at; a surface without its input reports NOT_APPLICABLE (ERROR if asked for)."""

    settings: Any = None
    app: Any = None
    url: str | None = None
    endpoint: Any = None  # compliance.surfaces.endpoint.EndpointOptions
    advisories: Path | None = None
    lock_file: Path | None = None
    eol_file: Path | None = None
    devices: list[Any] | None = None  # compliance.devices.DevicePosture
    device_policy: Any = None
    data: Any = None  # compliance.surfaces.data.DataSource
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


async def evaluate(check: Check, fn: Any, ctx: Any, now: datetime | None = None) -> list[Result]:
    """Run one check; exceptions become ERROR results so one broken check never hides the others."""
    try:
        out = fn(ctx)
        if inspect.isawaitable(out):
            out = await out
        findings = [out] if isinstance(out, Finding) else list(out)
    except SettingMissingError as exc:
        findings = [Finding(status=Status.ERROR, message=str(exc), looked_at="settings", values={"missing": exc.name})]
    except ComplianceError as exc:
        findings = [Finding(status=Status.ERROR, message=str(exc), looked_at="input")]
    except Exception as exc:
        findings = [
            Finding(status=Status.ERROR, message=f"check raised {type(exc).__name__}: {exc}", looked_at="checker")
        ]
    if not findings:
        findings = [Finding(status=Status.NOT_APPLICABLE, message="nothing to evaluate", looked_at="")]
    return [to_result(check, f, now) for f in findings]


def to_result(check: Check, f: Finding, now: datetime | None = None) -> Result:
    return Result(
        check_id=check.id,
        status=f.status,
        severity=check.severity,
        resource=f.resource,
        message=f.message,
        evidence=evidence_for(f.looked_at, f.values, now),
        fingerprint=fingerprint(check.id, f.resource),
    )


async def run_check(check_id: str, ctx: Any) -> list[Result]:
    """Evaluate a single check against a ready context (used by tests and by callers wanting one answer)."""
    fn = registry.functions()[check_id]
    return await evaluate(registry.definitions()[check_id], fn, ctx)


def _surface_module(surface: Surface) -> Any:
    return importlib.import_module(registry.SURFACE_MODULES[surface])


async def run(inputs: Inputs, surfaces: Iterable[Surface] | None = None) -> Report:
    explicit = surfaces is not None
    chosen = list(surfaces) if surfaces is not None else list(Surface)
    results: list[Result] = []
    notes: list[str] = []
    used_checks: list[Check] = []
    for surface in chosen:
        module = _surface_module(surface)
        pairs = registry.checks_for(surface)
        used_checks.extend(c for c, _ in pairs)
        try:
            ctx = module.build_context(inputs)
        except InputMissingError as exc:
            status = Status.ERROR if explicit else Status.NOT_APPLICABLE
            notes.append(f"{surface.value}: {exc}")
            for c, _ in pairs:
                results.append(
                    to_result(c, Finding(status=status, message=f"surface not run: {exc}", looked_at="input"))
                )
            continue
        try:
            for c, fn in pairs:
                results.extend(await evaluate(c, fn, ctx, inputs.now))
        finally:
            close = getattr(ctx, "close", None)
            if close is not None:
                maybe = close()
                if inspect.isawaitable(maybe):
                    await maybe
    env = "unknown"
    if inputs.settings is not None:
        env = str(getattr(inputs.settings, "env", None) or getattr(inputs.settings, "environment", "unknown"))
    from compliance.frameworks import summarise

    return Report(
        generated_at=inputs.now,
        environment=env,
        surfaces=tuple(s.value for s in chosen),
        checks=tuple(used_checks),
        results=tuple(results),
        frameworks=tuple(summarise(results)),
        notes=tuple(notes),
    )
