"""Shared fixtures: a production configuration that should pass, and helpers to run one check."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from compliance.model import Result, Status
from compliance.runner import run_check
from core.settings import (
    BiometricsSettings,
    DatabaseSettings,
    HttpSettings,
    RedisSettings,
    SecuritySettings,
    Settings,
)

DATA = Path(__file__).parent / "data"


def write_ed25519_key(directory: Path, kid: str = "k2026") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path = directory / f"{kid}.pem"
    path.write_bytes(pem)
    return path


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    write_ed25519_key(directory)
    return directory


@pytest.fixture
def good_settings(keys_dir: Path) -> Settings:
    return Settings(
        env="production",
        debug=False,
        database=DatabaseSettings(url="postgresql+asyncpg://emon@db.internal:5432/emon?sslmode=verify-full"),
        redis=RedisSettings(url="rediss://cache.internal:6380/0"),
        http=HttpSettings(cors_origins=["https://caseworker.emon.example"], allowed_hosts=["api.emon.example"]),
        security=SecuritySettings(
            secret_key=secrets.token_urlsafe(48),
            audit_hmac_key=secrets.token_urlsafe(48),
            jwt_keys_dir=str(keys_dir),
        ),
        biometrics=BiometricsSettings(template_keys="t1:" + base64.b64encode(secrets.token_bytes(32)).decode()),
    )


def with_(settings: Settings, **changes: Any) -> Settings:
    """Replace nested fields: with_(s, security__mfa_required=False, debug=True)."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "__" in key:
            section, field = key.split("__", 1)
            nested.setdefault(section, {})[field] = value
        else:
            top[key] = value
    for section, fields in nested.items():
        top[section] = msgspec.structs.replace(getattr(settings, section), **fields)
    return msgspec.structs.replace(settings, **top)


async def statuses(check_id: str, ctx: Any) -> set[Status]:
    return {r.status for r in await run_check(check_id, ctx)}


async def results(check_id: str, ctx: Any) -> list[Result]:
    return await run_check(check_id, ctx)


def only(values: Iterable[Status]) -> Status:
    found = set(values)
    assert len(found) == 1, found
    return found.pop()
