"""Helpers of the security specifications: accounts that can really sign in, TOTP codes, signed device requests."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import ed25519
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.clock import set_clock
from core.db import Database
from core.ids import uuid7
from security.actor import Actor, Role
from security.devices import canonical_request
from security.mfa import Totp
from security.models import RecoveryCode, StaffUser, Team

PASSWORD = "correct horse battery staple"
Client = AsyncTestClient[Litestar]


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One real argon2id hash at the OWASP floor, computed once and shared by every test account."""
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(PASSWORD)


@dataclass
class Account:
    actor: Actor
    username: str
    password: str
    totp_secret: str
    recovery_codes: list[str]

    def code(self, at: datetime | None = None) -> str:
        return pyotp.TOTP(self.totp_secret).at(at or datetime.now(UTC))


@pytest.fixture
def make_account(db: Database, password_hash: str) -> Callable[..., Any]:
    """An enrolled staff account (password, TOTP, recovery codes) written straight to the database."""

    async def build(
        role: Role | str = Role.CASEWORKER, *, username: str | None = None, team: str | None = None
    ) -> Account:
        from sqlalchemy import select

        role = Role(role)
        totp = Totp(db.settings)
        secret = totp.new_secret()
        codes = totp.new_recovery_codes()
        user_id = uuid7()
        username = username or f"{role.value.replace('_', '')}.{uuid.uuid4().hex[:6]}"
        async with db.transaction() as s:
            team_row = None
            if team:
                team_row = (await s.execute(select(Team).where(Team.name == team))).scalar_one_or_none()
                if team_row is None:
                    team_row = Team(name=team, region=team)
                    s.add(team_row)
                    await s.flush()
            s.add(
                StaffUser(
                    id=user_id,
                    username=username,
                    display_name=username,
                    role=role.value,
                    team_id=team_row.id if team_row else None,
                    password_hash=password_hash,
                    totp_secret=totp.seal(secret, user_id),
                    totp_enrolled_at=datetime.now(UTC),
                )
            )
            await s.flush()
            now = datetime.now(UTC)
            s.add_all(RecoveryCode(user_id=user_id, digest=totp.recovery_digest(c), created_at=now) for c in codes)
        actor = Actor(id=user_id, role=role, team_id=team_row.id if team_row else None)
        return Account(actor, username, PASSWORD, secret, codes)

    return build


async def sign_in(client: Client, account: Account, code: str | None = None) -> dict[str, Any]:
    """Both steps of sign-in; the token pair."""
    first = await client.post("/api/v1/auth/login", json={"username": account.username, "password": account.password})
    assert first.status_code == 201, first.text
    second = await client.post(
        "/api/v1/auth/mfa", json={"mfa_token": first.json()["mfa_token"], "code": code or account.code()}
    )
    assert second.status_code == 201, second.text
    return second.json()  # type: ignore[no-any-return]


@pytest.fixture
def frozen_clock() -> Any:
    """Move the application's clock (TOTP steps, token times) without sleeping."""

    class Clock:
        def at(self, moment: datetime) -> None:
            set_clock(lambda: moment)

    yield Clock()
    set_clock(None)


# ---- devices ----------------------------------------------------------------------------------------------------


@dataclass
class DeviceKey:
    private: ed25519.Ed25519PrivateKey
    device_id: str = ""

    @property
    def public_b64(self) -> str:
        from cryptography.hazmat.primitives import serialization

        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def headers(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        device_id: str | None = None,
        signer: ed25519.Ed25519PrivateKey | None = None,
    ) -> dict[str, str]:
        device = device_id or self.device_id
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or uuid.uuid4().hex
        message = canonical_request(method, path, body, ts, nonce, device)
        signature = (signer or self.private).sign(message)
        return {
            "X-Device-Id": device,
            "X-Device-Timestamp": ts,
            "X-Device-Nonce": nonce,
            "X-Device-Signature": base64.b64encode(signature).decode(),
            "Content-Type": "application/json",
        }


POSTURE = {
    "platform": "wearos",
    "os_version": "5.0",
    "security_patch": "2026-10-05",
    "encrypted": True,
    "screen_lock": True,
    "rooted": False,
    "attestation_format": "android-key",
    "attestation": "MIIB...",
}


def new_device_key() -> DeviceKey:
    return DeviceKey(ed25519.Ed25519PrivateKey.generate())


async def enrol(client: Client, headers: dict[str, str], key: DeviceKey, kind: str = "watch") -> dict[str, Any]:
    response = await client.post(
        "/api/v1/devices",
        json={
            "kind": kind,
            "label": f"{kind} {uuid.uuid4().hex[:4]}",
            "public_key": key.public_b64,
            "posture": POSTURE,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    key.device_id = response.json()["id"]
    return response.json()  # type: ignore[no-any-return]


async def device_token(client: Client, key: DeviceKey) -> str:
    path = "/api/v1/devices/token"
    response = await client.post(path, content=b"", headers=key.headers("POST", path))
    assert response.status_code == 201, response.text
    return response.json()["access_token"]  # type: ignore[no-any-return]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
