"""Guard: every check appears in a test that makes it FAIL on a bad input and PASS on a good one."""

from __future__ import annotations

from compliance.registry import definitions

from . import test_config_surface, test_data_surface, test_devices, test_endpoint_surface

DEPENDENCY_TESTS = {f"DEP-00{i}" for i in range(1, 8)}  # each has its own FAIL/PASS test in test_dependencies.py
CONFIG_SPECIAL = {"CFG-002", "CFG-004", "CFG-010", "CFG-016", "CFG-018", "CFG-025", "CFG-029"}


def test_every_check_has_a_fail_and_a_pass_test() -> None:
    covered = (
        set(test_config_surface.SETTINGS_CHECKS)
        | CONFIG_SPECIAL
        | set(test_endpoint_surface.ALL)
        | set(test_data_surface.BAD) | {"DATA-004", "DATA-006", "DATA-009"}
        | set(test_devices.DEVICE_RULE_CHECKS) | {"DEV-001", "DEV-002"}
        | DEPENDENCY_TESTS
    )  # fmt: skip
    assert set(definitions()) <= covered, sorted(set(definitions()) - covered)
