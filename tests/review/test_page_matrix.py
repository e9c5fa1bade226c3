"""The pages' route-by-role matrix, generated from the route table: every page under ``/review`` is public on
purpose (the sign-in steps) or guarded by the page session with roles. Without a session a page sends the browser
to sign in (a bearer token does not open a page), and a signed-in role the guard does not name gets 403."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from security.actor import Actor, Role
from security.auth import route_roles
from tests.review.test_web_session import web_sign_in

PUBLIC_PAGES = {
    ("GET", "/review"),
    ("GET", "/review/sign-in"),
    ("POST", "/review/sign-in"),
    ("GET", "/review/sign-in/code"),
    ("POST", "/review/sign-in/code"),
    ("POST", "/review/sign-out"),
}
_PARAM = re.compile(r"\{(\w+):(\w+)\}")


def _pages(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    found = []
    for route in app.routes:
        if not route.path.startswith("/review"):
            continue
        for handler in route.route_handlers:
            if isinstance(handler, HTTPRouteHandler):
                found += [(m, route.path, handler) for m in sorted(handler.http_methods) if m != "OPTIONS"]
    return found


def _url(path: str) -> str:
    samples = {"uuid": str(uuid.uuid4()), "int": "0", "str": "outcomes"}
    return _PARAM.sub(lambda m: samples.get(m.group(2), "x"), path)


async def test_every_page_is_a_sign_in_step_or_guarded_by_session_roles(app: Litestar) -> None:
    unguarded = [
        f"{method} {path}"
        for method, path, handler in _pages(app)
        if (method, path) not in PUBLIC_PAGES and route_roles(handler) is None
    ]
    assert unguarded == []


async def test_pages_refuse_no_session_bearer_tokens_and_roles_they_do_not_name(
    app: Litestar, web: Any, make_account: Callable, token_for: Callable
) -> None:
    guarded = [(m, p, h) for m, p, h in _pages(app) if (m, p) not in PUBLIC_PAGES]
    assert guarded
    token = token_for(Actor(id=uuid.uuid4(), role=Role.SUPERVISOR))
    for method, path, _handler in guarded:
        anonymous = await web.request(method, _url(path))
        assert anonymous.status_code == 303, (method, path)
        assert anonymous.headers["location"] == "/review/sign-in"
        with_token = await web.request(method, _url(path), headers=token)
        assert with_token.status_code == 303, (method, path)
    failures = []
    for role in (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN):
        web.cookies.clear()
        await web_sign_in(web, await make_account(role), expect=None)
        for method, path, handler in guarded:
            roles = route_roles(handler) or frozenset()
            if role in roles:
                continue
            response = await web.request(method, _url(path))
            if response.status_code != 403:
                failures.append(f"{method} {path} as {role.value}: {response.status_code}")
    assert failures == []


async def test_roles_without_pages_cannot_sign_in_to_them(web: Any, make_account: Callable) -> None:
    from tests.review.test_web_session import csrf_of

    account = await make_account(Role.FIELD_OFFICER, team="North")
    form = await web.get("/review/sign-in")
    await web.post(
        "/review/sign-in",
        data={"username": account.username, "password": account.password, "csrf_token": csrf_of(form.text)},
    )
    code_page = await web.get("/review/sign-in/code")
    response = await web.post(
        "/review/sign-in/code", data={"code": account.code(), "csrf_token": csrf_of(code_page.text)}
    )
    assert response.status_code == 403
    assert (await web.get("/review/queue")).status_code == 303
