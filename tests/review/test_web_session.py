"""The caseworker pages' sign-in, session cookie and CSRF protection."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from security.actor import Role

Client = AsyncTestClient[Litestar]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


async def web_sign_in(client: Client, account: Any, expect: str | None = "/review/queue") -> None:
    form = await client.get("/review/sign-in")
    first = await client.post(
        "/review/sign-in",
        data={"username": account.username, "password": account.password, "csrf_token": csrf_of(form.text)},
    )
    assert first.status_code == 303, first.text
    code_page = await client.get("/review/sign-in/code")
    second = await client.post(
        "/review/sign-in/code", data={"code": account.code(), "csrf_token": csrf_of(code_page.text)}
    )
    assert second.status_code == 303, second.text
    if expect is not None:
        assert second.headers["location"] == expect


async def test_pages_need_a_session_and_send_the_browser_to_sign_in(web: Client) -> None:
    response = await web.get("/review/queue")
    assert response.status_code == 303
    assert response.headers["location"] == "/review/sign-in"


async def test_sign_in_with_password_then_code_opens_the_queue(web: Client, make_account: Callable) -> None:
    account = await make_account(Role.CASEWORKER)
    await web_sign_in(web, account)
    queue = await web.get("/review/queue")
    assert queue.status_code == 200
    assert "Review queue" in queue.text
    assert queue.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in queue.headers["content-security-policy"]
    assert "unsafe-inline" not in queue.headers["content-security-policy"]


async def test_the_session_cookie_is_httponly_strict_and_rotated_at_sign_in(
    web: Client, make_account: Callable
) -> None:
    account = await make_account(Role.CASEWORKER)
    form = await web.get("/review/sign-in")
    cookie = form.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http in development; production sets Secure (below)
    before = web.cookies.get("emon_session")
    await web_sign_in(web, account)
    after = web.cookies.get("emon_session")
    assert before
    assert after
    assert before != after


async def test_the_session_cookie_is_secure_in_production(settings_for: Callable) -> None:
    from review.websession import session_config

    production = settings_for().__class__(env="production")
    assert session_config(production).secure is True
    assert session_config(production).samesite == "strict"
    assert session_config(production).httponly is True


async def test_a_post_without_the_csrf_token_is_refused(web: Client, make_account: Callable) -> None:
    account = await make_account(Role.CASEWORKER)
    await web.get("/review/sign-in")
    response = await web.post("/review/sign-in", data={"username": account.username, "password": account.password})
    assert response.status_code == 403
    wrong = await web.post(
        "/review/sign-in", data={"username": account.username, "password": account.password, "csrf_token": "x" * 43}
    )
    assert wrong.status_code == 403


async def test_a_wrong_code_shows_an_error_summary(web: Client, make_account: Callable) -> None:
    account = await make_account(Role.CASEWORKER)
    form = await web.get("/review/sign-in")
    await web.post(
        "/review/sign-in",
        data={"username": account.username, "password": account.password, "csrf_token": csrf_of(form.text)},
    )
    code_page = await web.get("/review/sign-in/code")
    response = await web.post("/review/sign-in/code", data={"code": "000000", "csrf_token": csrf_of(code_page.text)})
    assert response.status_code == 401
    assert "There is a problem" in response.text
    assert (await web.get("/review/queue")).status_code == 303


async def test_sign_out_ends_the_session(web: Client, make_account: Callable) -> None:
    account = await make_account(Role.CASEWORKER)
    await web_sign_in(web, account)
    queue = await web.get("/review/queue")
    response = await web.post("/review/sign-out", data={"csrf_token": csrf_of(queue.text)})
    assert response.status_code == 303
    assert (await web.get("/review/queue")).status_code == 303


async def test_an_idle_session_expires(web: Client, make_account: Callable) -> None:
    from datetime import UTC, datetime, timedelta

    from core.clock import set_clock

    account = await make_account(Role.CASEWORKER)
    await web_sign_in(web, account)
    later = datetime.now(UTC) + timedelta(seconds=web.app.state.settings.security.session_idle_seconds + 5)
    set_clock(lambda: later)
    try:
        assert (await web.get("/review/queue")).status_code == 303
    finally:
        set_clock(None)


async def test_a_caseworker_decides_an_item_through_the_pages(
    web: Client, make_account: Callable, db: Any, token_for: Callable
) -> None:
    from datetime import UTC, datetime, timedelta

    from review.demo import add_prompt, add_wearer, sample_photo

    account = await make_account(Role.CASEWORKER)
    async with db.transaction() as s:
        wearer, order, enrolment = await add_wearer(
            s, caseworker_id=account.actor.id, first_name="Dee", last_name="Page"
        )
        referred = await add_prompt(
            s,
            db.settings,
            wearer,
            order,
            enrolment,
            outcome="REFERRED",
            at=datetime.now(UTC) - timedelta(hours=3),
            reasons=["LOW_MATCH"],
            distance=0.57,
            photo=sample_photo(),
        )
    alert_id = referred["alert"].prompt_id
    await web_sign_in(web, account)
    queue = await web.get("/review/queue")
    assert f"/review/items/{alert_id}" in queue.text
    item = await web.get(f"/review/items/{alert_id}")
    assert item.status_code == 200
    assert "0.570" in item.text
    assert "<img" not in item.text  # photos only on request
    photos = await web.get(f"/review/items/{alert_id}?photos=1")
    assert f"/review/checkins/{referred['checkin'].id}/images/0" in photos.text
    image = await web.get(f"/review/checkins/{referred['checkin'].id}/images/0")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    empty = await web.post(
        f"/review/items/{alert_id}/decision", data={"csrf_token": csrf_of(item.text), "outcome": "ACCEPTED"}
    )
    assert empty.status_code == 400
    assert "Enter the reason for your decision" in empty.text
    no_csrf = await web.post(f"/review/items/{alert_id}/decision", data={"outcome": "ACCEPTED", "reason": "ok"})
    assert no_csrf.status_code == 403
    done = await web.post(
        f"/review/items/{alert_id}/decision",
        data={"csrf_token": csrf_of(item.text), "outcome": "ACCEPTED", "reason": "Same person, poor light"},
    )
    assert done.status_code == 303
    queue = await web.get("/review/queue")
    assert f"/review/items/{alert_id}" not in queue.text
    assert "Decision saved" in queue.text
    for path in (f"/review/wearers/{wearer.id}", "/review/caseload"):
        page = await web.get(path)
        assert page.status_code == 200, path
    assert "<svg" in (await web.get(f"/review/wearers/{wearer.id}")).text
    assert (await web.get("/review/reports")).status_code == 403


async def test_the_reports_page_is_for_supervisors(web: Client, make_account: Callable, db: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from review.demo import add_prompt, add_wearer

    account = await make_account(Role.SUPERVISOR)
    async with db.transaction() as s:
        wearer, order, enrolment = await add_wearer(s, caseworker_id=account.actor.id, first_name="Em", last_name="R")
        await add_prompt(
            s, db.settings, wearer, order, enrolment, outcome="VERIFIED", at=datetime.now(UTC) - timedelta(1)
        )
    await web_sign_in(web, account)
    page = await web.get("/review/reports")
    assert page.status_code == 200
    assert "suppressed" in page.text
    assert "<svg" in page.text


async def test_a_session_ends_at_its_absolute_limit_even_when_busy(web: Client, make_account: Callable) -> None:
    from datetime import UTC, datetime, timedelta

    from core.clock import set_clock

    settings = web.app.state.settings
    account = await make_account(Role.CASEWORKER)
    await web_sign_in(web, account)
    start = datetime.now(UTC)
    step = timedelta(seconds=settings.security.session_idle_seconds - 5)
    try:
        moment = start
        while moment - start < timedelta(seconds=settings.security.session_absolute_seconds - step.seconds):
            moment += step
            set_clock(lambda at=moment: at)
            assert (await web.get("/review/queue")).status_code == 200
        set_clock(lambda: start + timedelta(seconds=settings.security.session_absolute_seconds + 1))
        assert (await web.get("/review/queue")).status_code == 303
    finally:
        set_clock(None)


async def test_page_sessions_live_in_redis_when_it_is_configured(
    settings_for: Callable, db: Any, make_account: Callable, redis_url: str
) -> None:
    import uuid as uuid_module

    from redis.asyncio import Redis

    from api.app import create_app
    from tests.conftest import TEST_HOST

    prefix = f"emontest{uuid_module.uuid4().hex[:8]}"
    app = create_app(settings_for(EMON_REDIS_URL=redis_url, EMON_REDIS_PREFIX=prefix))
    account = await make_account(Role.CASEWORKER)
    redis = Redis.from_url(redis_url)
    try:
        async with AsyncTestClient(app, base_url=f"http://{TEST_HOST}") as web:
            web.follow_redirects = False
            await web_sign_in(web, account)
            session_id = web.cookies.get("emon_session")
            keys = [k.decode() async for k in redis.scan_iter(match=f"{prefix}:sessions*")]
            assert any(session_id in key for key in keys), keys
            assert (await web.get("/review/queue")).status_code == 200
    finally:
        async for key in redis.scan_iter(match=f"{prefix}*"):
            await redis.delete(key)
        await redis.aclose()


async def test_a_supervisor_revises_a_decision_on_the_item_page(
    web: Client, make_account: Callable, make_staff: Callable, db: Any, token_for: Callable
) -> None:
    from datetime import UTC, datetime, timedelta

    from review.demo import add_prompt, add_wearer

    caseworker = await make_staff(Role.CASEWORKER)
    async with db.transaction() as s:
        wearer, order, enrolment = await add_wearer(s, caseworker_id=caseworker.id, first_name="Fi", last_name="Rev")
        missed = await add_prompt(
            s, db.settings, wearer, order, enrolment, outcome="MISSED", at=datetime.now(UTC) - timedelta(hours=2)
        )
    item_id = missed["alert"].prompt_id
    decided = await web.post(  # through the API, with a bearer token (one client per app: one event loop)
        f"/api/v1/review/items/{item_id}/decision",
        json={"outcome": "CONFIRMED_NON_COMPLIANT", "reason": "no answer"},
        headers=token_for(caseworker),
    )
    assert decided.status_code == 201
    supervisor = await make_account(Role.SUPERVISOR)
    await web_sign_in(web, supervisor)
    page = await web.get(f"/review/items/{item_id}")
    assert "Revise the decision" in page.text
    response = await web.post(
        f"/review/items/{item_id}/revision",
        data={"csrf_token": csrf_of(page.text), "outcome": "EXCUSED", "reason": "Hospital admission, letter seen"},
    )
    assert response.status_code == 303
    after = await web.get(f"/review/items/{item_id}")
    assert "Hospital admission, letter seen" in after.text
    assert "no answer" in after.text  # the first decision stays in the history
