"""Demo staff accounts for development: one per role (two officers in different teams, two caseworkers).

The password and TOTP secrets are fixed and printed so a developer can sign in; that is acceptable only because
this seeder refuses to run in production. Running it twice changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.settings import Settings
from security.actor import SYSTEM, Role
from security.audit import record
from security.mfa import Totp
from security.models import StaffUser, Team
from security.passwords import Passwords

DEMO_PASSWORD = "lantern staple orbit 42"  # noqa: S105 - development demo accounts only; production refuses
DEMO_ACCOUNTS: list[tuple[str, Role, str | None, str]] = [
    ("officer.demo", Role.FIELD_OFFICER, "North", "Olivia Officer"),
    ("officer2.demo", Role.FIELD_OFFICER, "South", "Omar Officer"),
    ("caseworker.demo", Role.CASEWORKER, None, "Cara Caseworker"),
    ("caseworker2.demo", Role.CASEWORKER, None, "Cyrus Caseworker"),
    ("supervisor.demo", Role.SUPERVISOR, None, "Sam Supervisor"),
    ("admin.demo", Role.ADMIN, None, "Ada Admin"),
]


class DemoRefused(RuntimeError):
    pass


def demo_totp_secret(username: str) -> str:
    """A fixed, reproducible TOTP secret per demo account (base32, 160 bits)."""
    return base64.b32encode(hashlib.sha256(f"emon-demo-totp:{username}".encode()).digest()[:20]).decode()


async def seed_accounts(session: AsyncSession, settings: Settings) -> list[str]:
    if settings.is_production:
        raise DemoRefused("demo accounts are never created in production")
    totp = Totp(settings)
    passwords = Passwords(settings)
    password_hash: str | None = None
    lines = [f"demo staff accounts (password for all: {DEMO_PASSWORD!r}):"]
    for username, role, team_name, display in DEMO_ACCOUNTS:
        secret = demo_totp_secret(username)
        lines.append(f"  {username:<18} {role.value:<14} TOTP secret {secret}")
        if (await session.execute(select(StaffUser.id).where(StaffUser.username == username))).first():
            continue
        team_id = None
        if team_name:
            team = (await session.execute(select(Team).where(Team.name == team_name))).scalar_one_or_none()
            if team is None:
                team = Team(name=team_name, region=team_name)
                session.add(team)
                await session.flush()
            team_id = team.id
        password_hash = password_hash or await passwords.hash(DEMO_PASSWORD)
        user_id = uuid7()
        session.add(
            StaffUser(
                id=user_id,
                username=username,
                display_name=display,
                role=role.value,
                team_id=team_id,
                password_hash=password_hash,
                totp_secret=totp.seal(secret, user_id),
                totp_enrolled_at=datetime.now(UTC),
            )
        )
        await session.flush()
        await record(
            session,
            SYSTEM,
            "account.create",
            "staff_user",
            user_id,
            details={"username": username, "role": role.value, "demo": True},
            key=settings.security.audit_hmac_key.encode(),
        )
    return lines
