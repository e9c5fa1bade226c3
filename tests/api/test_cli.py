"""The emon CLI: help on each command, one readable error line and a non-zero exit on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _emon(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        env={**environ, "PYTHONPATH": str(ROOT)},
        cwd=cwd or ROOT,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["db"], ["db", "upgrade"], ["db", "downgrade"], ["demo", "seed"], ["version"]]
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_version_prints_the_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.output.startswith("emon ")


def test_production_with_a_default_secret_refuses_to_start_with_a_clear_message(tmp_path: Path) -> None:
    result = _emon("serve", env={"EMON_ENV": "production"}, cwd=tmp_path)
    assert result.returncode != 0
    assert "EMON_SECURITY_SECRET_KEY is the development default" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_bad_setting_is_one_readable_line(tmp_path: Path) -> None:
    result = _emon("db", "upgrade", env={"EMON_HTTP_PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "EMON_HTTP_PORT" in result.stderr


def test_serve_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    result = _emon("serve", "--workers", "2", cwd=tmp_path)
    assert result.returncode != 0
    assert "EMON_REDIS_URL" in result.stderr


def test_db_upgrade_then_downgrade_on_a_new_file(tmp_path: Path) -> None:
    env = {"EMON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    assert _emon("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    down = _emon("db", "downgrade", "base", env=env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
