"""What leaves the service besides the answer: logs never hold passwords, TOTP secrets, codes or tokens; every
response carries the hardening headers."""

from __future__ import annotations

import io
import logging

from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.logs import get_logger
from core.settings import HttpSettings, SecuritySettings, Settings
from security.headers import build_headers
from tests.security.conftest import sign_in

Client = AsyncTestClient[Litestar]


async def test_sign_in_refresh_and_logout_leave_no_secret_in_the_logs(client: Client, make_account) -> None:
    account = await make_account()
    root = logging.getLogger()
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(root.handlers[0].formatter)  # the app's own structured formatter, with its redaction
    root.addHandler(capture)
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        await client.post(
            "/api/v1/auth/login", json={"username": account.username, "password": "a wrong password here"}
        )
        code = account.code()
        pair = await sign_in(client, account, code)
        rotated = (await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).json()
        await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})  # reuse, audited
        await client.post(
            "/api/v1/auth/logout",
            json={"refresh_token": rotated["refresh_token"]},
            headers={"Authorization": f"Bearer {rotated['access_token']}"},
        )
        # a careless log call somewhere must still not leak
        get_logger("emon.test").info("careless", password=account.password, token=pair["access_token"], code=code)
        get_logger("emon.test").info(f"careless interpolation {pair['access_token']} {pair['refresh_token']}")
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
    output = stream.getvalue()
    assert "request" in output  # logging really was captured
    secrets = [
        account.password,
        "a wrong password here",
        account.totp_secret,
        f'"{code}"',  # as a value; six bare digits may occur by chance in a timestamp
        f" {code} ",
        account.recovery_codes[0],
        pair["access_token"],
        pair["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
    ]
    leaked = [s[:12] for s in secrets if s in output]
    assert leaked == []


async def test_api_responses_carry_the_hardening_headers(client: Client) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})
    headers = response.headers
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


def test_production_adds_hsts_of_at_least_a_year() -> None:
    production = Settings(env="production", security=SecuritySettings(), http=HttpSettings())
    headers = dict(build_headers(production))
    hsts = headers[b"strict-transport-security"].decode()
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31_536_000
    assert b"strict-transport-security" not in dict(build_headers(Settings()))


async def test_an_oversized_json_body_is_refused_with_413(settings_for, db) -> None:
    from api.app import create_app

    app = create_app(settings_for(EMON_HTTP_MAX_JSON_BYTES="1024"))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        response = await client.post("/api/v1/auth/login", json={"username": "u", "password": "p" * 5000})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_page_sizes_are_capped(client: Client, make_staff, token_for) -> None:
    from security.actor import Role

    admin = await make_staff(Role.ADMIN)
    response = await client.get("/api/v1/users?limit=1000", headers=token_for(admin))
    assert response.status_code == 200
    assert response.json()["limit"] == 100
