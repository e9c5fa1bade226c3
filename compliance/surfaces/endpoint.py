"""placeholder"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EndpointOptions:
    url: str
    ca_file: Path | None = None
    login_path: str = "/api/v1/auth/login"
    protected_paths: tuple[str, ...] = ()


def build_context(inputs: Any) -> Any:
    from compliance.errors import InputMissingError

    raise InputMissingError("not built")
