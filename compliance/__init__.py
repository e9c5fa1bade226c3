"""Automated evidence of the deployment against UK government cyber security standards.

Importing this package stays light (no database, no HTTP): the check-in service imports :func:`evaluate_device`
from here to refuse non-compliant watches. The checker itself lives in :mod:`compliance.runner` and the CLI in
:mod:`compliance.cli`.
"""

from compliance.devices import (
    Attestation,
    DeviceCompliance,
    DevicePolicy,
    DevicePosture,
    DeviceState,
    FleetSummary,
    PolicyNotInForceError,
    evaluate_device,
    fleet_summary,
    load_policy,
)
from compliance.model import Check, Evidence, Report, Result, Severity, Status, Surface

__all__ = [
    "Attestation",
    "Check",
    "DeviceCompliance",
    "DevicePolicy",
    "DevicePosture",
    "DeviceState",
    "Evidence",
    "FleetSummary",
    "PolicyNotInForceError",
    "Report",
    "Result",
    "Severity",
    "Status",
    "Surface",
    "evaluate_device",
    "fleet_summary",
    "load_policy",
]
