"""The caseworker pages: sign-in (password, then code), queue, item and decision, wearer, caseload, reports.

Server-rendered with Jinja (autoescaped). Pages are excluded from the bearer-token layer and guarded by
:func:`review.websession.page_requires`; every POST is checked against the session's CSRF token before the
handler runs. The pages call the same service functions as the API, so scoping and audit are the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from core.errors import DomainError, NotAuthenticated, RateLimited
from core.settings import Settings
from review.pages import error_page, page, see_other, sign_in_redirect
from review.websession import (
    SignInRequired,
    page_requires,
    pending_mfa,
    session_config,
    start_session,
    verify_csrf,
)
from security import sessions as signin
from security.actor import Actor, Role
from security.clientaddr import client_address
from security.runtime import runtime_of
from security.tokens import actor_from_claims

AnyRequest = Request[Any, Any, Any]
PAGE_ROLES = (Role.CASEWORKER, Role.SUPERVISOR)


def _address(request: AnyRequest) -> str | None:
    return client_address(request.scope, runtime_of(request).settings.http.trusted_proxies)


def _request_id(request: AnyRequest) -> str | None:
    return request.scope.get("state", {}).get("request_id")


@get("/sign-in", exclude_from_auth=True, name="review-sign-in")
async def sign_in_form(request: AnyRequest) -> Template:
    return page(request, "sign_in.html", "Sign in")


@post("/sign-in", exclude_from_auth=True, status_code=200)
async def sign_in_password(request: AnyRequest) -> Response[Any]:
    form = await request.form()
    username = str(form.get("username", ""))[:80]
    password = str(form.get("password", ""))[:256]
    if not username or not password:
        errors = [("username", "Enter your username and password")]
        return page(request, "sign_in.html", "Sign in", status_code=400, errors=errors, username=username)
    rt = runtime_of(request)
    try:
        challenge = await signin.password_step(rt, username, password, _address(request), _request_id(request))
    except RateLimited:
        errors = [("username", "Too many attempts. Wait a few minutes, then try again")]
        return page(request, "sign_in.html", "Sign in", status_code=429, errors=errors, username=username)
    except NotAuthenticated:
        errors = [("username", "The username or password is not right")]
        return page(request, "sign_in.html", "Sign in", status_code=401, errors=errors, username=username)
    pending_mfa(request, challenge.mfa_token, username)
    return see_other("/review/sign-in/code")


@get("/sign-in/code", exclude_from_auth=True)
async def sign_in_code_form(request: AnyRequest) -> Response[Any]:
    if not request.session.get("mfa"):
        return see_other("/review/sign-in")
    return page(request, "sign_in_code.html", "Enter your security code")


@post("/sign-in/code", exclude_from_auth=True, status_code=200)
async def sign_in_code(request: AnyRequest) -> Response[Any]:
    form = await request.form()
    code = str(form.get("code", "")).strip().replace(" ", "")[:64]
    mfa_token = str(request.session.get("mfa") or "")
    if not mfa_token:
        return see_other("/review/sign-in")
    title = "Enter your security code"
    if not code:
        return page(request, "sign_in_code.html", title, status_code=400, errors=[("code", "Enter your security code")])
    rt = runtime_of(request)
    try:
        pair = await signin.mfa_step(rt, mfa_token, code, _address(request), _request_id(request))
    except RateLimited:
        errors = [("code", "Too many attempts. Wait a few minutes, then try again")]
        return page(request, "sign_in_code.html", title, status_code=429, errors=errors)
    except NotAuthenticated:
        errors = [("code", "The security code is not right, or it has expired")]
        return page(request, "sign_in_code.html", title, status_code=401, errors=errors)
    actor = actor_from_claims(rt.tokens.verify_access_token(pair.access_token), _address(request))
    if actor.role not in PAGE_ROLES:
        request.clear_session()
        raise DomainError("These pages are for caseworkers and supervisors")
    name = str(request.session.get("username", ""))
    start_session(request, actor, name=name, refresh_token=pair.refresh_token, access_jti=actor.token_id)
    return see_other("/review/queue")


@post("/sign-out", exclude_from_auth=True, status_code=303)
async def sign_out(request: AnyRequest) -> Redirect:
    from review.websession import session_actor

    settings: Settings = request.app.state.settings
    actor = session_actor(request, settings)
    if actor is not None:
        rt = runtime_of(request)
        async with rt.db.transaction() as session:
            actor = Actor(id=actor.id, role=actor.role, team_id=actor.team_id, token_id=request.session.get("jti"))
            await signin.logout(session, rt, actor, request.session.get("refresh") or None, _request_id(request))
    request.clear_session()
    return see_other("/review/sign-in")


@get("/", exclude_from_auth=True)
async def home() -> Redirect:
    return see_other("/review/queue")


PUBLIC_HANDLERS: list[Any] = [sign_in_form, sign_in_password, sign_in_code_form, sign_in_code, sign_out, home]


def pages_router(settings: Settings, handlers: list[Any]) -> Router:
    """Every page under ``/review``: cookie session, CSRF on every POST, HTML errors and a redirect to sign in."""
    return Router(
        path="/review",
        route_handlers=[*PUBLIC_HANDLERS, *handlers],
        middleware=[session_config(settings).middleware],
        before_request=verify_csrf,
        exception_handlers={SignInRequired: sign_in_redirect, DomainError: error_page},
        opt={"exclude_from_auth": True},
        include_in_schema=False,
    )


TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def static_router() -> Router:
    return create_static_files_router(
        path="/static", directories=[STATIC], opt={"exclude_from_auth": True}, include_in_schema=False
    )


GUARD = page_requires(*PAGE_ROLES)


@get("/queue", guards=[GUARD])
async def queue_page(request: AnyRequest) -> Template:
    return page(request, "queue.html", "Review queue", nav="queue", items=[])


PAGE_HANDLERS: list[Any] = [queue_page]
