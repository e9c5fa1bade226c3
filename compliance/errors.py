"""Errors of the checker itself (as opposed to findings about the deployment)."""


class ComplianceError(Exception):
    """Base class; carries the CLI exit code that fits."""

    exit_code = 1


class InputError(ComplianceError):
    """A bad argument or an invalid waiver, baseline or data file."""

    exit_code = 2


class ExpiredWaiverError(ComplianceError):
    exit_code = 4


class SettingMissingError(ComplianceError):
    """A setting a check needs does not exist; the check reports ERROR, never PASS."""

    def __init__(self, name: str) -> None:
        super().__init__(f"setting not present: {name}")
        self.name = name


class InputMissingError(ComplianceError):
    """The input a check needs was not supplied (no advisories, no app, ...); the check reports ERROR."""
