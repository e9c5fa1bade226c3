"""The shipped production example, with its placeholders replaced by real secrets, has no critical or high failure
on the configuration surface, using the real settings loader and the real application factory."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from click.testing import CliRunner

from api.app import create_app
from compliance.cli import compliance
from compliance.model import Severity
from compliance.surfaces.config import ConfigView
from core.settings import load_settings, read_dotenv

from .conftest import results, write_ed25519_key

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "production.env.example"


def production_values(tmp_path: Path, *, replace: bool = True) -> dict[str, str]:
    values = read_dotenv(EXAMPLE)
    keys = tmp_path / "jwt"
    write_ed25519_key(keys)
    values["EMON_SECURITY_JWT_KEYS_DIR"] = str(keys)
    if replace:
        values["EMON_SECURITY_SECRET_KEY"] = secrets.token_urlsafe(48)
        values["EMON_SECURITY_AUDIT_HMAC_KEY"] = secrets.token_urlsafe(48)
        values["EMON_BIOMETRICS_TEMPLATE_KEYS"] = "t1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    return values


async def test_production_example_has_no_critical_or_high_failure(tmp_path: Path) -> None:
    settings = load_settings(production_values(tmp_path), dotenv=None)
    cfg = ConfigView(settings, create_app(settings))
    from compliance.model import Surface
    from compliance.registry import checks_for

    failing = []
    for check, _ in checks_for(Surface.CONFIG):
        for r in await results(check.id, cfg):
            if r.status.value == "FAIL" and r.severity.at_least(Severity.HIGH):
                failing.append((r.check_id, r.resource, r.message))
    assert not failing


async def test_unreplaced_placeholders_are_flagged(tmp_path: Path) -> None:
    settings = load_settings(production_values(tmp_path, replace=False), dotenv=None)
    cfg = ConfigView(settings, create_app(settings))
    flagged = {r.check_id for c in ("CFG-019", "CFG-026") for r in await results(c, cfg) if r.status.value == "FAIL"}
    assert flagged == {"CFG-019", "CFG-026"}


def test_cli_on_the_production_example_exits_0(tmp_path: Path) -> None:
    settings = load_settings(production_values(tmp_path), dotenv=None)
    res = CliRunner().invoke(
        compliance,
        ["check", "--surfaces", "config", "--format", "json"],
        obj={"settings": settings, "create_app": create_app},
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["environment"] == "production"
