"""Check definitions: metadata from ``checks.toml`` joined to the evaluation functions of the surfaces."""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from compliance.model import Check, Severity, Surface

CHECKS_FILE = Path(__file__).with_name("checks.toml")
SURFACE_MODULES = {
    Surface.CONFIG: "compliance.surfaces.config",
    Surface.ENDPOINT: "compliance.surfaces.endpoint",
    Surface.DEPENDENCIES: "compliance.surfaces.dependencies",
    Surface.DATA: "compliance.surfaces.data",
    Surface.DEVICES: "compliance.surfaces.devices",
}

CheckFn = Callable[..., Any]
_FUNCTIONS: dict[str, CheckFn] = {}


def check(check_id: str) -> Callable[[CheckFn], CheckFn]:
    """Register the evaluation function of ``check_id``; its metadata must exist in ``checks.toml``."""

    def register(fn: CheckFn) -> CheckFn:
        if check_id in _FUNCTIONS and _FUNCTIONS[check_id] is not fn:
            raise ValueError(f"check {check_id} registered twice")
        _FUNCTIONS[check_id] = fn
        return fn

    return register


@cache
def definitions() -> dict[str, Check]:
    with CHECKS_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, Check] = {}
    for entry in data["check"]:
        c = Check(
            id=entry["id"],
            title=entry["title"],
            surface=Surface(entry["surface"]),
            severity=Severity(entry["severity"]),
            evaluates=entry["evaluates"],
            risk=entry["risk"],
            remediation=entry["remediation"],
            references=tuple(entry.get("references", ())),
        )
        if c.id in out:
            raise ValueError(f"duplicate check id {c.id} in checks.toml")
        out[c.id] = c
    return out


def load_surfaces() -> None:
    for module in SURFACE_MODULES.values():
        importlib.import_module(module)


def functions() -> dict[str, CheckFn]:
    load_surfaces()
    return dict(_FUNCTIONS)


def checks_for(surface: Surface) -> list[tuple[Check, CheckFn]]:
    fns = functions()
    return [(c, fns[c.id]) for c in definitions().values() if c.surface == surface and c.id in fns]
