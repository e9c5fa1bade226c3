"""Signing in: password, then a second factor, then rotating sessions. Every failure looks the same from outside,
guessing is throttled, and every step leaves an audit entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db import Database
from security.actor import Role
from security.audit import AuditEvent
from tests.security.conftest import sign_in

Client = AsyncTestClient[Litestar]
LOGIN = "/api/v1/auth/login"
MFA = "/api/v1/auth/mfa"
REFRESH = "/api/v1/auth/refresh"


def _bearer(pair: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _comparable(response) -> tuple[int, dict]:  # type: ignore[no-untyped-def,type-arg]
    body = dict(response.json())
    body.pop("request_id", None)
    return response.status_code, body


async def _actions(db: Database) -> list[tuple[str, str]]:
    async with db.transaction() as s:
        rows = (await s.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars().all()
    return [(r.action, r.outcome) for r in rows]


async def test_password_then_totp_gives_tokens_that_open_the_api(client: Client, make_account, db) -> None:
    account = await make_account(Role.CASEWORKER)
    pair = await sign_in(client, account)
    assert pair["token_type"] == "Bearer"
    me = await client.get("/api/v1/auth/me", headers=_bearer(pair))
    assert me.status_code == 200
    assert me.json()["id"] == str(account.actor.id)
    assert ("auth.password", "success") in await _actions(db)
    assert ("auth.login", "success") in await _actions(db)


async def test_the_mfa_challenge_is_not_an_access_token(client: Client, make_account) -> None:
    account = await make_account()
    first = await client.post(LOGIN, json={"username": account.username, "password": account.password})
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {first.json()['mfa_token']}"})
    assert response.status_code == 401


async def test_unknown_user_wrong_password_and_wrong_code_answer_identically(client: Client, make_account, db) -> None:
    account = await make_account()
    unknown = await client.post(LOGIN, json={"username": "nobody.here", "password": account.password})
    wrong_password = await client.post(LOGIN, json={"username": account.username, "password": "wrong " * 3})
    challenge = (await client.post(LOGIN, json={"username": account.username, "password": account.password})).json()
    bad = "000000" if account.code() != "000000" else "111111"
    wrong_code = await client.post(MFA, json={"mfa_token": challenge["mfa_token"], "code": bad})
    assert _comparable(unknown)[0] == 401
    assert _comparable(unknown)[1] == _comparable(wrong_password)[1]
    assert _comparable(wrong_code)[1] == {**_comparable(unknown)[1], "instance": MFA}
    failures = [a for a in await _actions(db) if a[1] == "failure"]
    assert ("auth.password", "failure") in failures
    assert ("auth.mfa", "failure") in failures


async def test_a_disabled_account_cannot_sign_in(client: Client, make_account, token_for) -> None:
    admin = await make_account(Role.ADMIN)
    account = await make_account()
    disabled = await client.post(f"/api/v1/users/{account.actor.id}/disable", headers=token_for(admin.actor))
    assert disabled.status_code == 201
    response = await client.post(LOGIN, json={"username": account.username, "password": account.password})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid credentials"


async def test_ten_failures_lock_the_account_and_the_eleventh_try_is_refused(client: Client, make_account) -> None:
    account = await make_account()
    for i in range(10):
        # different client addresses, so it is the account's counter that trips
        response = await client.post(
            LOGIN, json={"username": account.username, "password": f"wrong password {i}"}, headers={}
        )
        assert response.status_code == 401, i
    eleventh = await client.post(LOGIN, json={"username": account.username, "password": account.password})
    assert eleventh.status_code == 429
    assert int(eleventh.headers["retry-after"]) > 0
    assert eleventh.headers["content-type"] == "application/problem+json"


async def test_lockout_applies_to_unknown_names_too(client: Client) -> None:
    for _ in range(10):
        await client.post(LOGIN, json={"username": "ghost.user", "password": "not the password"})
    response = await client.post(LOGIN, json={"username": "ghost.user", "password": "not the password"})
    assert response.status_code == 429


async def test_wrong_codes_count_towards_the_lockout(client: Client, make_account) -> None:
    account = await make_account()
    challenge = (await client.post(LOGIN, json={"username": account.username, "password": account.password})).json()
    bad = "000000" if account.code() != "000000" else "111111"
    for _ in range(10):
        assert (await client.post(MFA, json={"mfa_token": challenge["mfa_token"], "code": bad})).status_code == 401
    locked = await client.post(MFA, json={"mfa_token": challenge["mfa_token"], "code": account.code()})
    assert locked.status_code == 429


async def test_a_totp_code_cannot_be_replayed(client: Client, make_account) -> None:
    account = await make_account()
    code = account.code()
    await sign_in(client, account, code)
    challenge = (await client.post(LOGIN, json={"username": account.username, "password": account.password})).json()
    replay = await client.post(MFA, json={"mfa_token": challenge["mfa_token"], "code": code})
    assert replay.status_code == 401


async def test_a_code_from_an_older_step_than_the_last_used_is_refused(client: Client, make_account) -> None:
    account = await make_account()
    now = datetime.now(UTC)
    await sign_in(client, account, account.code(now))
    challenge = (await client.post(LOGIN, json={"username": account.username, "password": account.password})).json()
    older = account.code(now - timedelta(seconds=30))
    response = await client.post(MFA, json={"mfa_token": challenge["mfa_token"], "code": older})
    assert response.status_code == 401


async def test_each_recovery_code_works_once(client: Client, make_account, db) -> None:
    account = await make_account()
    code = account.recovery_codes[0]
    assert len(account.recovery_codes) == 10
    await sign_in(client, account, code)
    challenge = (await client.post(LOGIN, json={"username": account.username, "password": account.password})).json()
    again = await client.post(MFA, json={"mfa_token": challenge["mfa_token"], "code": code})
    assert again.status_code == 401
    await sign_in(client, account, account.recovery_codes[1].upper())
    async with db.transaction() as s:
        details = (await s.execute(select(AuditEvent.details).where(AuditEvent.action == "auth.login"))).scalars().all()
    assert [json.loads(d)["mfa"] for d in details] == ["recovery_code", "recovery_code"]


async def test_refresh_rotates_and_the_old_token_stops_working(client: Client, make_account) -> None:
    account = await make_account()
    pair = await sign_in(client, account)
    rotated = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 201
    assert rotated.json()["refresh_token"] != pair["refresh_token"]
    assert (await client.get("/api/v1/auth/me", headers=_bearer(rotated.json()))).status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client: Client, make_account, db) -> None:
    account = await make_account()
    pair = await sign_in(client, account)
    second = (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).json()
    reuse = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert reuse.status_code == 401
    # the legitimate holder's newer tokens die with the family
    assert (await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=_bearer(second))).status_code == 401
    assert ("auth.refresh.reuse", "family_revoked") in await _actions(db)


async def test_logout_revokes_the_access_token_and_the_refresh_family(client: Client, make_account, db) -> None:
    account = await make_account()
    pair = await sign_in(client, account)
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=_bearer(pair))
    assert out.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=_bearer(pair))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401
    assert ("auth.logout", "success") in await _actions(db)


async def test_disabling_an_account_revokes_its_tokens(client: Client, make_account, token_for) -> None:
    admin = await make_account(Role.ADMIN)
    account = await make_account()
    pair = await sign_in(client, account)
    assert (await client.get("/api/v1/auth/me", headers=_bearer(pair))).status_code == 200
    await client.post(f"/api/v1/users/{account.actor.id}/disable", headers=token_for(admin.actor))
    assert (await client.get("/api/v1/auth/me", headers=_bearer(pair))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401


async def test_login_rehashes_a_password_stored_with_old_parameters(client: Client, make_account, db) -> None:
    from argon2 import PasswordHasher
    from sqlalchemy import update

    from security.models import StaffUser

    account = await make_account()
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(account.password)
    async with db.transaction() as s:
        await s.execute(update(StaffUser).where(StaffUser.id == account.actor.id).values(password_hash=weak))
    await sign_in(client, account)
    async with db.transaction() as s:
        stored = (await s.execute(select(StaffUser.password_hash).where(StaffUser.id == account.actor.id))).scalar_one()
    assert stored != weak
    assert "m=19456,t=2,p=1" in stored


async def test_a_session_left_idle_past_the_limit_cannot_be_refreshed(
    client: Client, make_account, frozen_clock
) -> None:
    account = await make_account()
    pair = await sign_in(client, account)
    frozen_clock.at(datetime.now(UTC) + timedelta(minutes=16))  # idle limit: 15 minutes
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401


async def test_an_mfa_challenge_completes_one_sign_in_only(client: Client, make_account) -> None:
    account = await make_account()
    now = datetime.now(UTC)
    challenge = (await client.post(LOGIN, json={"username": account.username, "password": account.password})).json()
    first = await client.post(MFA, json={"mfa_token": challenge["mfa_token"], "code": account.code(now)})
    assert first.status_code == 201
    # the next step's code is valid (drift window) and unused, but the challenge is spent
    again = await client.post(
        MFA, json={"mfa_token": challenge["mfa_token"], "code": account.code(now + timedelta(seconds=30))}
    )
    assert again.status_code == 401


async def test_repeated_lockouts_back_off() -> None:
    from core.settings import Settings
    from security.stores import MemoryStore
    from security.throttle import LoginThrottle

    store = MemoryStore()
    throttle = LoginThrottle(store, Settings())
    lock_lengths = []
    for _ in range(3):
        for _ in range(10):
            await throttle.failed("acct:someone")
        lock_lengths.append(await store.ttl("login:lock:acct:someone"))
        await store.delete("login:lock:acct:someone")  # as if the lockout had run out
    assert lock_lengths == [300, 600, 1200]
