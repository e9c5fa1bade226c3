"""Rate limits, login throttles and nonces hold across instances sharing Redis; the client address is taken from
``X-Forwarded-For`` only behind a trusted proxy."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from litestar import Litestar, post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.settings import Settings
from security.actor import Actor, Role
from security.auth import requires
from security.clientaddr import resolve
from security.ratelimit import Limiter
from security.stores import MemoryStore
from tests.security.conftest import POSTURE, device_token, enrol, new_device_key

Client = AsyncTestClient[Litestar]


@asynccontextmanager
async def _two_instances(settings: Settings) -> AsyncIterator[tuple[Client, Client]]:
    """Two separately built apps (as two processes would be) on one database and one Redis."""
    first, second = create_app(settings), create_app(settings)
    async with (
        AsyncTestClient(first, base_url="http://testserver.local") as a,
        AsyncTestClient(second, base_url="http://testserver.local") as b,
    ):
        yield a, b


@pytest.fixture
def redis_settings(settings_for: Callable[..., Settings], redis_url: str) -> Callable[..., Settings]:
    prefix = f"emon-test-{uuid.uuid4().hex[:10]}"

    def build(**env: str) -> Settings:
        return settings_for(EMON_REDIS_URL=redis_url, EMON_REDIS_PREFIX=prefix, **env)

    return build


async def test_the_limiter_counts_within_a_window_and_reports_what_is_left() -> None:
    limiter = Limiter(MemoryStore())
    results = [await limiter.hit("k", 3, 60) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert 0 < results[-1].reset_seconds <= 60


async def test_api_responses_carry_rate_limit_headers_and_the_limit_answers_429(settings_for, db, make_staff) -> None:
    app = create_app(settings_for(EMON_SECURITY_API_RATE_PER_MINUTE="3"))
    actor = await make_staff(Role.CASEWORKER)
    token, _ = app.state.tokens.issue_access_token(actor)
    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        responses = [await client.get("/api/v1/auth/me", headers=headers) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[0].headers["ratelimit-limit"] == "3"
    assert responses[0].headers["ratelimit-remaining"] == "2"
    assert int(responses[3].headers["retry-after"]) > 0
    assert responses[3].headers["ratelimit-remaining"] == "0"
    assert responses[3].headers["content-type"] == "application/problem+json"


async def test_probes_are_never_rate_limited(settings_for, db) -> None:
    app = create_app(settings_for(EMON_SECURITY_API_RATE_PER_MINUTE="1"))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        codes = [(await client.get("/healthz")).status_code for _ in range(3)]
    assert codes == [200, 200, 200]


@pytest.mark.redis
async def test_the_rate_limit_is_shared_by_two_instances(redis_settings, db, make_staff) -> None:
    settings = redis_settings(EMON_SECURITY_API_RATE_PER_MINUTE="4")
    actor = await make_staff(Role.CASEWORKER)
    async with _two_instances(settings) as (a, b):
        token, _ = a.app.state.tokens.issue_access_token(actor)
        headers = {"Authorization": f"Bearer {token}"}
        codes = [(await (a if i % 2 else b).get("/api/v1/auth/me", headers=headers)).status_code for i in range(6)]
    assert codes == [200, 200, 200, 200, 429, 429]


@pytest.mark.redis
async def test_the_login_lockout_is_shared_by_two_instances(redis_settings, db, make_account) -> None:
    account = await make_account()
    async with _two_instances(redis_settings()) as (a, b):
        for i in range(10):
            client = a if i % 2 else b
            wrong = await client.post("/api/v1/auth/login", json={"username": account.username, "password": f"no {i}"})
            assert wrong.status_code == 401
        eleventh = await a.post("/api/v1/auth/login", json={"username": account.username, "password": account.password})
    assert eleventh.status_code == 429


@pytest.mark.redis
async def test_a_nonce_used_on_one_instance_is_refused_by_the_other(redis_settings, db, make_staff) -> None:
    officer = await make_staff(Role.FIELD_OFFICER, team="north")
    async with _two_instances(redis_settings()) as (a, b):
        staff_token, _ = a.app.state.tokens.issue_access_token(officer)
        key = new_device_key()
        await enrol(a, {"Authorization": f"Bearer {staff_token}"}, key)
        token = await device_token(b, key)
        body = json.dumps(POSTURE).encode()
        headers = key.headers("POST", "/api/v1/devices/posture", body)
        headers["Authorization"] = f"Bearer {token}"
        first = await a.post("/api/v1/devices/posture", content=body, headers=headers)
        replay = await b.post("/api/v1/devices/posture", content=body, headers=headers)
    assert first.status_code == 201
    assert replay.status_code == 401


@pytest.mark.redis
async def test_a_revocation_on_one_instance_holds_on_the_other(redis_settings, db, make_account) -> None:
    from tests.security.conftest import sign_in

    account = await make_account()
    async with _two_instances(redis_settings()) as (a, b):
        pair = await sign_in(a, account)
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert (await b.post("/api/v1/auth/logout", json={}, headers=headers)).status_code == 204
        assert (await a.get("/api/v1/auth/me", headers=headers)).status_code == 401


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    assert resolve("198.51.100.7", ["203.0.113.9"], []) == "198.51.100.7"
    assert resolve("198.51.100.7", ["203.0.113.9"], ["10.0.0.0/8"]) == "198.51.100.7"


def test_forwarded_for_is_walked_from_the_right_past_trusted_proxies() -> None:
    trusted = ["10.0.0.0/8", "192.168.0.0/16"]
    # the client wrote a fake first hop; the proxies appended the real client and themselves
    assert resolve("10.0.0.2", ["6.6.6.6, 203.0.113.9, 192.168.1.1"], trusted) == "203.0.113.9"
    assert resolve("10.0.0.2", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert resolve("10.0.0.2", ["garbage, 203.0.113.9"], trusted) == "203.0.113.9"
    assert resolve("10.0.0.2", [], trusted) == "10.0.0.2"
    assert resolve("10.0.0.2", ["192.168.1.1"], trusted) == "192.168.1.1"


async def test_lockouts_follow_the_forwarded_client_behind_a_trusted_proxy(settings_for, db, make_account) -> None:
    account = await make_account()
    import httpx

    app = create_app(settings_for(EMON_HTTP_TRUSTED_PROXIES="10.0.0.0/8"))
    # the requests arrive from a proxy at 10.0.0.2, which forwards for two different clients
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 40000))
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        for i in range(10):
            await client.post(
                "/api/v1/auth/login",
                json={"username": f"ghost{i}", "password": "not the password"},
                headers={"X-Forwarded-For": "203.0.113.50"},
            )
        blocked = await client.post(
            "/api/v1/auth/login",
            json={"username": account.username, "password": account.password},
            headers={"X-Forwarded-For": "203.0.113.50"},
        )
        other = await client.post(
            "/api/v1/auth/login",
            json={"username": account.username, "password": account.password},
            headers={"X-Forwarded-For": "203.0.113.51"},
        )
    assert blocked.status_code == 429
    assert other.status_code == 201


async def test_routes_limit_their_own_actions_through_the_limiter_dependency(
    app: Litestar, make_staff, token_for
) -> None:
    @post("/test/prompt", guards=[requires(Role.CASEWORKER)], status_code=204)
    async def prompt(limiter: NamedDependency[Limiter], actor: NamedDependency[Actor]) -> None:
        await limiter.enforce(f"prompt:{actor.id}", 2, 60)

    app.register(prompt)
    caseworker = await make_staff(Role.CASEWORKER)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        codes = [(await client.post("/test/prompt", headers=token_for(caseworker))).status_code for _ in range(3)]
        refused = await client.post("/test/prompt", headers=token_for(caseworker))
    assert codes == [204, 204, 429]
    assert refused.headers["ratelimit-limit"] == "2"
    assert int(refused.headers["retry-after"]) > 0
