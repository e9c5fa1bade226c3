"""The package boundary: a pure library, cheap to import, with a policy that refuses inconsistent limits."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from biometrics.policy import DEFAULT_POLICY, BiometricPolicy

PACKAGE = Path(__file__).resolve().parents[2] / "biometrics"
OTHER_PACKAGES = {"core", "security", "fieldwork", "checkin", "compliance", "api", "tests"}


def test_biometrics_imports_no_other_emon_package() -> None:
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & OTHER_PACKAGES, f"{source.name} imports {roots & OTHER_PACKAGES}"


def test_importing_the_api_and_cli_loads_neither_dlib_nor_face_recognition() -> None:
    code = (
        "import sys, biometrics.pipeline, biometrics.cli, biometrics.templates;"
        "loaded = {'dlib', 'face_recognition', 'face_recognition_models'} & set(sys.modules);"
        "sys.exit(1 if loaded else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_shipped_policy_has_the_documented_bands() -> None:
    assert (DEFAULT_POLICY.accept_distance, DEFAULT_POLICY.refer_distance) == (0.50, 0.60)
    assert DEFAULT_POLICY.replay_distance == 0.10
    assert DEFAULT_POLICY.use_68_point_model is False
    assert DEFAULT_POLICY.decode.analysis_max_side_px == 640


def test_a_policy_with_inconsistent_bands_is_refused() -> None:
    with pytest.raises(ValueError, match="accept_distance <= refer_distance"):
        BiometricPolicy(accept_distance=0.6, refer_distance=0.5)
    with pytest.raises(ValueError, match="replay_distance"):
        BiometricPolicy(replay_distance=0.55)


def test_a_policy_round_trips_through_json_for_configuration() -> None:
    encoded = msgspec.json.encode(DEFAULT_POLICY)
    assert msgspec.json.decode(encoded, type=BiometricPolicy) == DEFAULT_POLICY
