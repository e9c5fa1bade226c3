"""placeholder"""

from typing import Any


def build_context(inputs: Any) -> Any:
    from compliance.errors import InputMissingError

    raise InputMissingError("not built")
