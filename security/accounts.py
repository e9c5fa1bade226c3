"""Staff accounts: creation (with TOTP enrolment and recovery codes), disabling, listing."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Conflict, NotFound, PolicyViolation, ValidationFailed
from core.ids import uuid7
from security.actor import STAFF_ROLES, Actor, Role
from security.audit import record
from security.models import RecoveryCode, RefreshToken, StaffUser, Team
from security.passwords import password_problems
from security.runtime import SecurityRuntime

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")


@dataclass(frozen=True)
class NewAccount:
    user: StaffUser
    totp_secret: str
    provisioning_uri: str
    recovery_codes: list[str]


def account_problems(username: str, role: str, team: str | None, password: str, rt: SecurityRuntime) -> list[dict]:
    errors: list[dict[str, str]] = []
    if not USERNAME.match(username):
        errors.append({"field": "username", "message": "3-80 of a-z, 0-9, '.', '_', '-', starting with a letter/digit"})
    if role not in {r.value for r in STAFF_ROLES}:
        errors.append({"field": "role", "message": "must be one of " + ", ".join(sorted(r.value for r in STAFF_ROLES))})
    if role == Role.FIELD_OFFICER and not team:
        errors.append({"field": "team", "message": "a field officer belongs to a team"})
    for problem in password_problems(password, rt.settings, username=username):
        errors.append({"field": "password", "message": problem})
    return errors


async def create_staff(
    session: AsyncSession,
    rt: SecurityRuntime,
    actor: Actor,
    *,
    username: str,
    role: str,
    display_name: str,
    password: str,
    team: str | None = None,
    request_id: str | None = None,
) -> NewAccount:
    """Create an account enrolled in TOTP; the secret and recovery codes are returned here and never again."""
    username = username.strip().lower()
    errors = account_problems(username, role, team, password, rt)
    if errors:
        raise ValidationFailed("The account cannot be created", errors=errors)
    if (await session.execute(select(StaffUser.id).where(StaffUser.username == username))).first():
        raise Conflict("an account with this username exists")
    team_row = None
    if team:
        team_row = (await session.execute(select(Team).where(Team.name == team))).scalar_one_or_none()
        if team_row is None:
            team_row = Team(name=team, region=team)
            session.add(team_row)
            await session.flush()
    now = utcnow()
    user_id = uuid7()
    secret = rt.totp.new_secret()
    user = StaffUser(
        id=user_id,
        username=username,
        display_name=display_name.strip(),
        role=role,
        team_id=team_row.id if team_row else None,
        password_hash=await rt.passwords.hash(password),
        totp_secret=rt.totp.seal(secret, user_id),
        totp_enrolled_at=now,
    )
    session.add(user)
    await session.flush()
    codes = rt.totp.new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user_id, digest=rt.totp.recovery_digest(c), created_at=now) for c in codes)
    await record(
        session,
        actor,
        "account.create",
        "staff_user",
        user_id,
        details={"username": username, "role": role, "team": team},
        key=rt.audit_key,
        request_id=request_id,
    )
    return NewAccount(user, secret, rt.totp.provisioning_uri(secret, username), codes)


async def disable_staff(
    session: AsyncSession, rt: SecurityRuntime, actor: Actor, user_id: uuid.UUID, *, request_id: str | None = None
) -> StaffUser:
    """Disable an account and end its sessions: refresh tokens revoked, every access token issued so far refused."""
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("no such account")
    if user.id == actor.id:
        raise PolicyViolation("an administrator cannot disable their own account")
    now = utcnow()
    if user.disabled_at is None:
        user.disabled_at = now
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await rt.revocations.revoke_subject(str(user.id), rt.settings.security.access_token_ttl_seconds, session)
    await record(session, actor, "account.disable", "staff_user", user.id, key=rt.audit_key, request_id=request_id)
    return user


async def list_staff(session: AsyncSession, limit: int, offset: int) -> tuple[list[StaffUser], int]:
    total = (await session.execute(select(func.count()).select_from(StaffUser))).scalar_one()
    rows = (await session.execute(select(StaffUser).order_by(StaffUser.username).limit(limit).offset(offset))).scalars()
    return list(rows), int(total)
