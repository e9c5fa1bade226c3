"""``emon checkin sweep|schedule``, ``emon retention run [--dry-run]`` and the mounted ``emon biometrics`` group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from api.cli import main
from core.db import Database
from core.settings import Settings
from tests.checkin.test_jobs import add_prompts


@pytest.mark.parametrize(
    "command",
    [
        ["checkin", "sweep"],
        ["checkin", "schedule"],
        ["retention", "run"],
        ["biometrics", "compare"],
        ["biometrics", "eval"],
    ],
)
def test_the_check_in_commands_are_mounted_with_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


async def test_sweep_and_retention_report_what_they_did(
    db: Database, make_case: Callable[..., Any], settings: Settings
) -> None:
    import asyncio

    case = await make_case()
    await add_prompts(db, case, 2, expired=True)

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), obj={"settings": settings})
        assert result.exit_code == 0, result.output
        return result.output

    swept = await asyncio.to_thread(invoke, "checkin", "sweep")
    assert "missed prompts marked: 2; alerts raised: 2" in swept
    dry = await asyncio.to_thread(invoke, "retention", "run", "--dry-run")
    assert "would delete checkin_images: 0" in dry
    real = await asyncio.to_thread(invoke, "retention", "run")
    assert "deleted checkin_records: 0" in real
