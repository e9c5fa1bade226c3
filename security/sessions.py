"""Sign-in and sessions: password, then second factor, then an access token and a rotating refresh token.

- Unknown account, disabled account, wrong password and wrong code all answer the same 401 ``invalid credentials``;
  an unknown account costs one argon2 verification like a real one.
- Both steps are throttled per account name and per client address (``security.throttle``).
- Refresh tokens are opaque, stored as SHA-256, and rotate on every use. Presenting a rotated one again revokes its
  whole family (and the access tokens issued with it) and is audited: someone holds a copy.
- A session ends after ``EMON_SECURITY_SESSION_IDLE_SECONDS`` without a refresh, and after
  ``EMON_SECURITY_SESSION_ABSOLUTE_SECONDS`` in all.
- Failures are audited in their own transaction, so the record survives the refusal.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import NotAuthenticated
from core.ids import uuid7
from security.actor import STAFF_ROLES, Actor, Role
from security.audit import record
from security.models import RecoveryCode, RefreshToken, StaffUser
from security.runtime import SecurityRuntime
from security.schemas import MfaChallenge, TokenPair
from security.throttle import account_key, address_key

GENERIC = "invalid credentials"
REFRESH_PREFIX = "emr_"


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _actor(user: StaffUser, address: str | None) -> Actor:
    return Actor(id=user.id, role=Role(user.role), team_id=user.team_id, client_address=address)


async def _audit_failure(
    rt: SecurityRuntime,
    action: str,
    user: StaffUser | None,
    address: str | None,
    request_id: str | None,
    details: dict[str, object],
) -> None:
    async with rt.db.transaction() as session:
        await record(
            session,
            _actor(user, address) if user else None,
            action,
            "staff_user",
            user.id if user else None,
            outcome="failure",
            details=details,
            key=rt.audit_key,
            request_id=request_id,
            client_address=address,
        )


async def _find(session: AsyncSession, username: str) -> StaffUser | None:
    name = username.strip().lower()
    return (await session.execute(select(StaffUser).where(StaffUser.username == name))).scalar_one_or_none()


async def password_step(
    rt: SecurityRuntime, username: str, password: str, address: str | None, request_id: str | None
) -> MfaChallenge:
    keys = (account_key(username), address_key(address))
    await rt.throttle.check(*keys)
    async with rt.db.transaction() as session:
        user = await _find(session, username)
        usable = user is not None and user.is_active and user.role in STAFF_ROLES
        ok = await rt.passwords.verify(user.password_hash if usable and user else None, password)
        enrolled = bool(user and user.totp_secret) or not rt.settings.security.mfa_required
        if ok and usable and enrolled and user is not None:
            if rt.passwords.needs_rehash(user.password_hash):
                user.password_hash = await rt.passwords.hash(password)
            await record(
                session,
                _actor(user, address),
                "auth.password",
                "staff_user",
                user.id,
                key=rt.audit_key,
                request_id=request_id,
            )
            return MfaChallenge(
                mfa_token=rt.tokens.issue_mfa_challenge(user.id),
                expires_in=rt.settings.security.mfa_challenge_ttl_seconds,
            )
    await rt.throttle.failed(*keys)
    reason = "unknown account" if user is None else "disabled" if not usable else "password" if not ok else "no mfa"
    await _audit_failure(rt, "auth.password", user, address, request_id, {"username": username[:80], "reason": reason})
    raise NotAuthenticated(GENERIC)


async def _consume_code(session: AsyncSession, rt: SecurityRuntime, user: StaffUser, code: str) -> str | None:
    """The method that accepted ``code`` (``totp`` or ``recovery_code``), or ``None``. Each success is an atomic
    conditional update, so two concurrent requests with one code cannot both pass."""
    now = utcnow()
    if user.totp_secret:
        try:
            secret = rt.totp.open(user.totp_secret, user.id)
        except (ValueError, InvalidTag):  # sealed under another key or damaged: the factor cannot be checked
            return None
        step = rt.totp.accepted_step(secret, code, user.totp_last_step, now)
        if step is not None:
            result = await session.execute(
                update(StaffUser)
                .where(StaffUser.id == user.id)
                .where((StaffUser.totp_last_step.is_(None)) | (StaffUser.totp_last_step < step))
                .values(totp_last_step=step)
            )
            return "totp" if result.rowcount == 1 else None  # type: ignore[attr-defined]
    if rt.totp.looks_like_recovery_code(code):
        result = await session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.digest == rt.totp.recovery_digest(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return "recovery_code"
    return None


async def issue_session(session: AsyncSession, rt: SecurityRuntime, actor: Actor, family: uuid.UUID) -> TokenPair:
    access, jti = rt.tokens.issue_access_token(actor)
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        RefreshToken(
            user_id=actor.id,
            family_id=family,
            token_hash=_hash_refresh(refresh),
            access_jti=jti,
            issued_at=now,
            expires_at=now + timedelta(seconds=rt.settings.security.refresh_token_ttl_seconds),
        )
    )
    return TokenPair(
        access_token=access, refresh_token=refresh, expires_in=rt.settings.security.access_token_ttl_seconds
    )


async def mfa_step(
    rt: SecurityRuntime, mfa_token: str, code: str, address: str | None, request_id: str | None
) -> TokenPair:
    addr = address_key(address)
    await rt.throttle.check(addr)
    try:
        claims = rt.tokens.verify_mfa_challenge(mfa_token)
        user_id = uuid.UUID(claims["sub"])
    except (NotAuthenticated, ValueError, KeyError):
        await rt.throttle.failed(addr)
        raise NotAuthenticated(GENERIC) from None
    async with rt.db.transaction() as session:
        user = await session.get(StaffUser, user_id)
        if user is None or not user.is_active:
            raise NotAuthenticated(GENERIC)
        keys = (account_key(user.username), addr)
        await rt.throttle.check(*keys)
        method = await _consume_code(session, rt, user, code)
        # a challenge completes one sign-in only
        if method is not None and await rt.store.set_nx(
            f"mfa-used:{claims['jti']}", "1", rt.settings.security.mfa_challenge_ttl_seconds + 60
        ):
            user.last_login_at = utcnow()
            actor = _actor(user, address)
            pair = await issue_session(session, rt, actor, uuid7())
            await rt.throttle.succeeded(keys[0])
            await record(
                session,
                actor,
                "auth.login",
                "staff_user",
                user.id,
                details={"mfa": method},
                key=rt.audit_key,
                request_id=request_id,
                client_address=address,
            )
            return pair
    await rt.throttle.failed(*keys)
    await _audit_failure(rt, "auth.mfa", user, address, request_id, {"reason": "code"})
    raise NotAuthenticated(GENERIC)


async def _revoke_family(session: AsyncSession, rt: SecurityRuntime, family: uuid.UUID) -> int:
    now = utcnow()
    rows = (await session.execute(select(RefreshToken).where(RefreshToken.family_id == family))).scalars().all()
    for row in rows:
        if row.revoked_at is None:
            row.revoked_at = now
        # the access token issued with each refresh token lives at most one access lifetime after it
        expiry = (row.rotated_at or row.issued_at) + timedelta(seconds=rt.settings.security.access_token_ttl_seconds)
        expiry = max(expiry, row.issued_at + timedelta(seconds=rt.settings.security.access_token_ttl_seconds))
        if expiry > now:
            await rt.revocations.revoke_jti(row.access_jti, expiry, session)
    return len(rows)


async def refresh(rt: SecurityRuntime, token: str, address: str | None, request_id: str | None) -> TokenPair:
    await rt.throttle.check(address_key(address))
    now = utcnow()
    async with rt.db.transaction() as session:
        row = (
            await session.execute(select(RefreshToken).where(RefreshToken.token_hash == _hash_refresh(token)))
        ).scalar_one_or_none()
        if row is None:
            await rt.throttle.failed(address_key(address))
            raise NotAuthenticated("invalid token")
        user = await session.get(StaffUser, row.user_id)
        started = (
            await session.execute(
                select(func.min(RefreshToken.issued_at)).where(RefreshToken.family_id == row.family_id)
            )
        ).scalar_one()
        idle = timedelta(seconds=rt.settings.security.session_idle_seconds)
        expired = (
            row.expires_at <= now
            or row.issued_at + idle <= now
            or (
                started is not None
                and started + timedelta(seconds=rt.settings.security.session_absolute_seconds) <= now
            )
        )
        fresh = False
        if row.rotated_at is None and row.revoked_at is None and not expired and user is not None and user.is_active:
            result = await session.execute(
                update(RefreshToken)
                .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
                .values(rotated_at=now)
            )
            fresh = result.rowcount == 1  # type: ignore[attr-defined]
        if fresh and user is not None:
            actor = _actor(user, address)
            pair = await issue_session(session, rt, actor, row.family_id)
            await record(
                session,
                actor,
                "auth.refresh",
                "refresh_family",
                row.family_id,
                key=rt.audit_key,
                request_id=request_id,
                client_address=address,
            )
            return pair
        reused = row.rotated_at is not None or (row.revoked_at is None and not expired and not fresh)
        family = row.family_id
        user_for_audit = user
    if reused:
        async with rt.db.transaction() as session:
            count = await _revoke_family(session, rt, family)
            await record(
                session,
                _actor(user_for_audit, address) if user_for_audit else None,
                "auth.refresh.reuse",
                "refresh_family",
                family,
                outcome="family_revoked",
                details={"tokens": count},
                key=rt.audit_key,
                request_id=request_id,
                client_address=address,
            )
    raise NotAuthenticated("invalid token")


async def logout(
    session: AsyncSession, rt: SecurityRuntime, actor: Actor, refresh_token: str | None, request_id: str | None
) -> None:
    """End the caller's session: this access token, and the refresh family of ``refresh_token`` when given."""
    if actor.token_id:
        expiry = utcnow() + timedelta(seconds=rt.settings.security.access_token_ttl_seconds)
        await rt.revocations.revoke_jti(actor.token_id, expiry, session)
    family = None
    if refresh_token:
        row = (
            await session.execute(select(RefreshToken).where(RefreshToken.token_hash == _hash_refresh(refresh_token)))
        ).scalar_one_or_none()
        if row is not None and row.user_id == actor.id:
            family = row.family_id
            await _revoke_family(session, rt, family)
    await record(
        session,
        actor,
        "auth.logout",
        "staff_user",
        actor.id,
        details={"refresh_family": family},
        key=rt.audit_key,
        request_id=request_id,
    )
