"""The README's Python examples run, and its coverage table matches the data files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compliance.frameworks import checks_by_ref, frameworks
from compliance.registry import definitions

README = Path(__file__).resolve().parents[2] / "compliance" / "README.md"
TEXT = README.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(code: str) -> None:
    exec(compile(code, str(README), "exec"), {})  # noqa: S102 - our own documentation


def test_readme_states_the_check_count_and_coverage() -> None:
    assert f"## Surfaces and checks ({len(definitions())})" in TEXT
    mapping = checks_by_ref()
    for fw in frameworks().values():
        if fw.aggregate_of:
            continue
        covered = sum(1 for r in fw.requirements if mapping.get(fw.ref(r.id)))
        row = next(
            line for line in TEXT.splitlines() if "`frameworks/" in line and fw.id in _FILES and _FILES[fw.id] in line
        )
        assert f"| {covered} |" in row, (fw.id, covered, row)
        assert str(len(fw.requirements)) in row


_FILES = {
    "CAF": "caf.toml",
    "CE": "cyber_essentials.toml",
    "ASVS": "owasp_asvs.toml",
    "API": "owasp_api_top10.toml",
    "CSP": "cloud_principles.toml",
}
