"""Accounts: the admin API and the CLI create TOTP-enrolled staff (secret shown once), refuse weak passwords with
readable reasons; the audit CLI reports the chain; demo accounts exist only outside production."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from api.cli import main
from core.db import Database
from core.settings import Settings
from security.actor import Role
from security.audit import AuditEvent
from security.demo import DEMO_PASSWORD, DemoRefused, demo_totp_secret, seed_accounts
from security.models import StaffUser
from security.passwords import password_problems

Client = AsyncTestClient[Litestar]
GOOD = "quiet meadow lantern orbit"


def test_the_password_policy_follows_cyber_essentials() -> None:
    settings = Settings()
    assert password_problems(GOOD, settings) == []
    assert password_problems("x" * 128 + "", settings) != []  # one repeated character
    assert password_problems("Zq8!" * 32, settings) != []  # a repeated block
    assert "must be at least 12 characters" in password_problems("Short1!", settings)
    assert "must be at most 128 characters" in password_problems(GOOD * 6, settings)
    assert password_problems(("river-stone-" * 6)[:64] + "x7", settings) == []  # long passphrases are welcome
    for common in ("password1234", "Password123456!", "qwertyuiop123", "iloveyou2024!!", "123456789012"):
        assert "is too common or too easy to guess" in password_problems(common, settings), common
    assert "must not contain the username" in password_problems("jane.doe likes tea", settings, username="jane.doe")
    # no composition rules: lower-case words only are fine
    assert password_problems("purple elephants dance quietly", settings) == []


async def test_an_admin_creates_an_account_and_the_code_from_its_uri_signs_in(
    client: Client, make_staff, token_for, db: Database
) -> None:
    admin = await make_staff(Role.ADMIN)
    response = await client.post(
        "/api/v1/users",
        json={
            "username": "new.officer",
            "role": "field_officer",
            "display_name": "N O",
            "password": GOOD,
            "team": "East",
        },
        headers=token_for(admin),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    uri = urlparse(body["totp_provisioning_uri"])
    assert uri.scheme == "otpauth"
    secret = parse_qs(uri.query)["secret"][0]
    assert secret == body["totp_secret"]
    assert len(body["recovery_codes"]) == 10
    async with db.transaction() as s:
        stored = (await s.execute(select(StaffUser).where(StaffUser.username == "new.officer"))).scalar_one()
        assert secret not in (stored.totp_secret or "")
        assert stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert "account.create" in (await s.execute(select(AuditEvent.action))).scalars().all()
    listed = await client.get("/api/v1/users", headers=token_for(admin))
    assert "totp_secret" not in listed.text
    assert [u["username"] for u in listed.json()["items"]] == sorted(u["username"] for u in listed.json()["items"])
    challenge = await client.post("/api/v1/auth/login", json={"username": "new.officer", "password": GOOD})
    tokens = await client.post(
        "/api/v1/auth/mfa", json={"mfa_token": challenge.json()["mfa_token"], "code": pyotp.TOTP(secret).now()}
    )
    assert tokens.status_code == 201


async def test_account_creation_explains_every_problem(client: Client, make_staff, token_for) -> None:
    admin = await make_staff(Role.ADMIN)
    response = await client.post(
        "/api/v1/users",
        json={"username": "A!x", "role": "field_officer", "display_name": "x", "password": "password"},
        headers=token_for(admin),
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"username", "team", "password"}


async def test_an_admin_cannot_disable_themselves(client: Client, make_staff, token_for) -> None:
    admin = await make_staff(Role.ADMIN)
    response = await client.post(f"/api/v1/users/{admin.id}/disable", headers=token_for(admin))
    assert response.status_code == 422


def _cli(settings: Settings, args: list[str], stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, args, input=stdin, obj={"settings": settings}, catch_exceptions=False)


async def test_the_cli_creates_an_account_and_prints_the_secret_once(settings: Settings, db: Database) -> None:
    result = await asyncio.to_thread(
        _cli,
        settings,
        ["users", "create", "--username", "cli.admin", "--role", "admin", "--password-stdin"],
        GOOD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/" in result.output
    assert "TOTP secret" in result.output
    assert GOOD not in result.output


async def test_the_cli_refuses_bad_input_readably(settings: Settings, db: Database) -> None:
    weak = await asyncio.to_thread(
        _cli,
        settings,
        ["users", "create", "--username", "cli.user", "--role", "caseworker", "--password-stdin"],
        "short\n",
    )
    assert weak.exit_code != 0
    assert "password: must be at least 12 characters" in weak.output
    assert "Traceback" not in weak.output
    no_team = await asyncio.to_thread(
        _cli,
        settings,
        ["users", "create", "--username", "cli.off", "--role", "field_officer", "--password-stdin"],
        GOOD + "\n",
    )
    assert "team: a field officer belongs to a team" in no_team.output
    bad_role = await asyncio.to_thread(_cli, settings, ["users", "create", "--username", "x.y", "--role", "root"])
    assert bad_role.exit_code == 2


async def test_audit_verify_reports_an_intact_chain_and_the_first_broken_link(settings: Settings, db: Database) -> None:
    async with db.transaction() as s:
        await seed_accounts(s, settings)
    waiting = await asyncio.to_thread(_cli, settings, ["audit", "verify"])
    assert waiting.exit_code == 0
    assert "6 entries not sealed yet" in waiting.output
    assert "0 entries checked" in waiting.output
    sealed = await asyncio.to_thread(_cli, settings, ["audit", "seal"])
    assert sealed.exit_code == 0
    assert "6 entries sealed; 0 unsealed" in sealed.output
    intact = await asyncio.to_thread(_cli, settings, ["audit", "verify"])
    assert intact.exit_code == 0
    assert "0 entries not sealed yet" in intact.output
    assert "6 entries checked" in intact.output
    async with db.transaction() as s:
        await s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(outcome="tampered"))
    broken = await asyncio.to_thread(_cli, settings, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "first broken link: entry 4" in broken.output


async def test_demo_accounts_are_seeded_once_and_sign_in(client: Client, settings: Settings, db: Database) -> None:
    for _ in range(2):
        async with db.transaction() as s:
            lines = await seed_accounts(s, settings)
    async with db.transaction() as s:
        names = sorted((await s.execute(select(StaffUser.username))).scalars())
    assert names == sorted(
        ["officer.demo", "officer2.demo", "caseworker.demo", "caseworker2.demo", "supervisor.demo", "admin.demo"]
    )
    assert any(demo_totp_secret("admin.demo") in line for line in lines)
    challenge = await client.post("/api/v1/auth/login", json={"username": "admin.demo", "password": DEMO_PASSWORD})
    code = pyotp.TOTP(demo_totp_secret("admin.demo")).now()
    assert (
        await client.post("/api/v1/auth/mfa", json={"mfa_token": challenge.json()["mfa_token"], "code": code})
    ).status_code == 201


async def test_the_demo_seeder_refuses_production(db: Database) -> None:
    async with db.transaction() as s:
        with pytest.raises(DemoRefused):
            await seed_accounts(s, Settings(env="production"))
