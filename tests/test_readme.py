"""The README is kept true: its configuration reference lists every setting, and its examples run against a real
server with the demo data, as a reader would run them against `make run`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import serve
from core.settings import env_names
from core.settings_doc import DESCRIPTIONS, with_reference

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
EXAMPLE = re.compile(r"<!-- example -->\n```(python|sh)\n(.*?)```", re.S)


def test_every_setting_has_a_description() -> None:
    assert sorted(set(env_names()) - set(DESCRIPTIONS)) == []
    assert sorted(set(DESCRIPTIONS) - set(env_names())) == []


def test_the_readme_configuration_reference_is_current() -> None:
    assert with_reference(README) == README, "run: .venv/bin/python -m core.settings_doc --readme"


def test_the_readme_has_examples() -> None:
    kinds = [kind for kind, _ in EXAMPLE.findall(README)]
    assert kinds.count("python") >= 4
    assert "sh" in kinds


@pytest.mark.slow
def test_the_readme_examples_run_against_the_demo_server(tmp_path: Path) -> None:
    env = {
        "EMON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'readme.db'}",
        "EMON_SECURITY_JWT_KEYS_DIR": str(tmp_path / "keys"),
        "EMON_FIELDWORK_PHOTO_DIR": str(tmp_path / "photos"),
        "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMON_LOGGING_LEVEL": "WARNING",
    }
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")} | env
    emon = [sys.executable, "-m", "api.cli"]
    for command in (["db", "upgrade"], ["demo", "seed"]):
        subprocess.run([*emon, *command], cwd=ROOT, env=environ, check=True, capture_output=True, timeout=120)
    with serve(env) as base:
        namespace: dict[str, object] = {}
        for kind, code in EXAMPLE.findall(README):
            if kind == "python":
                exec(compile(code.replace("http://127.0.0.1:8000", base), "README.md", "exec"), namespace)  # noqa: S102
            else:
                bin_dir = str(Path(sys.executable).parent)
                result = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", code],
                    cwd=tmp_path,
                    env=environ | {"PATH": bin_dir + os.pathsep + environ.get("PATH", "")},
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert result.returncode == 0, result.stderr
