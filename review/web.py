"""The caseworker pages: sign-in (password, then code), queue, item and decision, wearer, caseload, reports.

Server-rendered with Jinja (autoescaped). Pages are excluded from the bearer-token layer and guarded by
:func:`review.websession.page_requires`; every POST is checked against the session's CSRF token before the
handler runs. The pages call the same service functions as the API, so scoping and audit are the same.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Redirect, Stream, Template
from litestar.static_files import create_static_files_router
from sqlalchemy.ext.asyncio import AsyncSession

from checkin.service import Ctx
from core.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from core.settings import Settings
from review import reports, service
from review.charts import Bar, horizontal_bars, stacked_columns
from review.exports import CASELOAD_HEADER, WEARER_HEADER, stream_csv, wearer_record_rows
from review.pages import error_page, page, see_other, sign_in_redirect
from review.routes import csv_response
from review.vocab import OUTCOME_LABELS, REASON_MAX, Outcome
from review.websession import (
    SignInRequired,
    page_requires,
    pending_mfa,
    session_config,
    session_data,
    start_session,
    verify_csrf,
)
from security import sessions as signin
from security.actor import Actor, Role
from security.clientaddr import client_address
from security.runtime import runtime_of
from security.tokens import actor_from_claims

DbSession = NamedDependency[AsyncSession]


AnyRequest = Request[Any, Any, Any]
PAGE_ROLES = (Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)


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
    if not session_data(request).get("mfa"):
        return see_other("/review/sign-in")
    return page(request, "sign_in_code.html", "Enter your security code")


@post("/sign-in/code", exclude_from_auth=True, status_code=200)
async def sign_in_code(request: AnyRequest) -> Response[Any]:
    form = await request.form()
    code = str(form.get("code", "")).strip().replace(" ", "")[:64]
    mfa_token = str(session_data(request).get("mfa") or "")
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
        raise PermissionDenied("These pages are for caseworkers, supervisors and administrators")
    name = str(session_data(request).get("username", ""))
    start_session(request, actor, name=name, refresh_token=pair.refresh_token, access_jti=actor.token_id)
    return see_other("/review/reports" if actor.role is Role.ADMIN else "/review/queue")


@post("/sign-out", exclude_from_auth=True, status_code=303)
async def sign_out(request: AnyRequest) -> Redirect:
    from review.websession import session_actor

    settings: Settings = request.app.state.settings
    actor = session_actor(request, settings)
    if actor is not None:
        rt = runtime_of(request)
        async with rt.db.transaction() as session:
            actor = Actor(
                id=actor.id, role=actor.role, team_id=actor.team_id, token_id=session_data(request).get("jti")
            )
            await signin.logout(session, rt, actor, session_data(request).get("refresh") or None, _request_id(request))
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


REVIEWERS = page_requires(Role.CASEWORKER, Role.SUPERVISOR)
REPORTERS = page_requires(Role.SUPERVISOR, Role.ADMIN)


def _ctx(request: AnyRequest, db_session: DbSession) -> Ctx:
    return Ctx(
        session=db_session,
        actor=request.scope["user"],
        settings=request.app.state.settings,
        request_id=_request_id(request),
    )


def _pop_notice(request: AnyRequest) -> str | None:
    notice = session_data(request).get("notice")
    if notice:
        request.set_session({k: v for k, v in session_data(request).items() if k != "notice"})
    return notice


def _notice(request: AnyRequest, text: str) -> None:
    request.set_session({**session_data(request), "notice": text})


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
    except ValueError:
        return None


@get("/queue", guards=[REVIEWERS])
async def queue_page(
    request: AnyRequest,
    db_session: DbSession,
    kind: str | None = Parameter(default=None, max_length=16),
    reason: str | None = Parameter(default=None, max_length=64),
    since: str | None = Parameter(default=None, max_length=10),
    until: str | None = Parameter(default=None, max_length=10),
    offset: int = Parameter(default=0, ge=0),
) -> Template:
    kind = kind if kind in {"REFERRED", "REJECTED", "MISSED"} else None
    reason = reason.strip().upper() or None if reason else None
    end = _day(until)
    result = await service.queue(
        _ctx(request, db_session),
        kind=kind,
        reason=reason,
        since=_day(since),
        until=end + timedelta(days=1) if end else None,
        limit=25,
        offset=offset,
    )
    filters = {"kind": kind, "reason": reason, "since": since if _day(since) else None, "until": until if end else None}
    base = {k: v for k, v in filters.items() if v}

    def link(at: int) -> str:
        return "/review/queue?" + urlencode({**base, "offset": max(0, at)})

    return page(
        request,
        "queue.html",
        "Review queue",
        nav="queue",
        page=result,
        filters=filters,
        prev_link=link(offset - 25),
        next_link=link(offset + 25),
        notice=_pop_notice(request),
    )


async def _item_page(
    request: AnyRequest,
    db_session: DbSession,
    item_id: uuid.UUID,
    *,
    show_photos: bool = False,
    errors: list[tuple[str, str]] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    ctx = _ctx(request, db_session)
    item = await service.item_detail(ctx, item_id)
    caseworker = ctx.actor.role is Role.CASEWORKER
    return page(
        request,
        "item.html",
        f"{item.kind.capitalize()} check-in: {item.wearer_name}",
        nav="queue",
        item=item,
        show_photos=show_photos and caseworker,
        can_view_photos=caseworker,
        can_revise=ctx.actor.role is Role.SUPERVISOR,
        outcomes=[(o.value, OUTCOME_LABELS[o]) for o in Outcome],
        reason_max=REASON_MAX,
        errors=errors,
        field_errors=dict(errors or []),
        form=form or {},
        status_code=status_code,
        notice=_pop_notice(request),
    )


@get("/items/{item_id:uuid}", guards=[REVIEWERS])
async def item_page(request: AnyRequest, db_session: DbSession, item_id: uuid.UUID, photos: int = 0) -> Template:
    return await _item_page(request, db_session, item_id, show_photos=photos == 1)


@post("/items/{item_id:uuid}/claim", guards=[REVIEWERS], status_code=303)
async def claim_item(request: AnyRequest, db_session: DbSession, item_id: uuid.UUID) -> Response[Any]:
    form = await request.form()
    version = _int(form.get("version"))
    try:
        await service.claim(_ctx(request, db_session), item_id, version)
    except Conflict as exc:
        return await _item_page(request, db_session, item_id, errors=[("decide", exc.detail)], status_code=409)
    _notice(request, "You are reviewing this item. Nobody else can decide it for the next 15 minutes.")
    return see_other(f"/review/items/{item_id}")


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


async def _decision(request: AnyRequest, db_session: DbSession, item_id: uuid.UUID, revise: bool) -> Response[Any]:
    form = await request.form()
    values = {"outcome": str(form.get("outcome", "")), "reason": str(form.get("reason", ""))[: REASON_MAX * 2]}
    errors: list[tuple[str, str]] = []
    if values["outcome"] not in {o.value for o in Outcome}:
        errors.append(("outcome", "Select a decision"))
    if not values["reason"].strip():
        errors.append(("reason", "Enter the reason for your decision"))
    elif len(values["reason"].strip()) > REASON_MAX:
        errors.append(("reason", f"The reason must be {REASON_MAX} characters or fewer"))
    if errors:
        return await _item_page(request, db_session, item_id, errors=errors, form=values, status_code=400)
    ctx = _ctx(request, db_session)
    act = service.revise if revise else service.decide
    try:
        decision = await act(ctx, item_id, values["outcome"], values["reason"], _int(form.get("version")))
    except (Conflict, ValidationFailed) as exc:
        status = 409 if isinstance(exc, Conflict) else 400
        return await _item_page(
            request, db_session, item_id, errors=[("decide", exc.detail)], form=values, status_code=status
        )
    _notice(request, f"Decision saved: {OUTCOME_LABELS[Outcome(decision.outcome)]}.")
    return see_other("/review/queue" if not revise else f"/review/items/{item_id}")


@post("/items/{item_id:uuid}/decision", guards=[REVIEWERS], status_code=303)
async def decide_item(request: AnyRequest, db_session: DbSession, item_id: uuid.UUID) -> Response[Any]:
    return await _decision(request, db_session, item_id, revise=False)


@post("/items/{item_id:uuid}/revision", guards=[page_requires(Role.SUPERVISOR)], status_code=303)
async def revise_item(request: AnyRequest, db_session: DbSession, item_id: uuid.UUID) -> Response[Any]:
    return await _decision(request, db_session, item_id, revise=True)


@get("/checkins/{checkin_id:uuid}/images/{position:int}", guards=[page_requires(Role.CASEWORKER)])
async def checkin_image(
    request: AnyRequest, db_session: DbSession, checkin_id: uuid.UUID, position: int
) -> Response[bytes]:
    data, content_type = await service.checkin_image(_ctx(request, db_session), checkin_id, position)
    return Response(data, media_type=content_type, headers={"Cache-Control": "no-store"})


@get("/wearers/{wearer_id:uuid}", guards=[REVIEWERS])
async def wearer_page(request: AnyRequest, db_session: DbSession, wearer_id: uuid.UUID) -> Template:
    ctx = _ctx(request, db_session)
    c = await service.compliance(ctx, wearer_id)
    open_items = await service.queue(ctx, wearer_id=wearer_id, limit=25)
    chart = stacked_columns(
        f"Check-in prompts per day for {c.wearer_name}, last 30 days",
        [d.day.isoformat() for d in c.timeline],
        [
            ("Verified", [d.verified for d in c.timeline]),
            ("Referred or rejected", [d.referred for d in c.timeline]),
            ("Missed", [d.missed for d in c.timeline]),
        ],
    )
    return page(
        request,
        "wearer.html",
        c.wearer_name,
        nav="caseload",
        c=c,
        chart=chart,
        open_items=open_items.items,
        notice=_pop_notice(request),
    )


@post("/wearers/{wearer_id:uuid}/prompt", guards=[REVIEWERS], status_code=303)
async def prompt_wearer(request: AnyRequest, db_session: DbSession, wearer_id: uuid.UUID) -> Response[Any]:
    try:
        sent = await service.send_prompt(_ctx(request, db_session), wearer_id)
    except Conflict as exc:
        _notice(request, f"No prompt was sent: {exc.detail}.")
    else:
        _notice(request, f"Prompt sent. The wearer has until {sent.expires_at:%H:%M} UTC to check in.")
    return see_other(f"/review/wearers/{wearer_id}")


@get("/wearers/{wearer_id:uuid}/export.csv", guards=[REVIEWERS])
async def wearer_csv(request: AnyRequest, db_session: DbSession, wearer_id: uuid.UUID) -> Stream:
    wearer = await service.export_wearer(_ctx(request, db_session), wearer_id)
    rows = wearer_record_rows(request.app.state.db, wearer)
    return csv_response(stream_csv(WEARER_HEADER, rows), f"checkins-{wearer}.csv")


@get("/caseload", guards=[REVIEWERS])
async def caseload_page(request: AnyRequest, db_session: DbSession) -> Template:
    result = await service.caseload(_ctx(request, db_session))
    return page(request, "caseload.html", "Caseload", nav="caseload", caseload=result)


@get("/caseload/export.csv", guards=[REVIEWERS])
async def caseload_csv(request: AnyRequest, db_session: DbSession) -> Stream:
    ctx = _ctx(request, db_session)
    summary = await service.caseload(ctx)
    await ctx.audit("review.export.caseload", "caseload", ctx.actor.id, wearers=len(summary.wearers))
    rows = (
        (r.wearer_id, r.wearer_name, r.missed_7d, r.referred_7d, r.open_items, r.compliance_rate_30d)
        for r in summary.wearers
    )
    return csv_response(stream_csv(CASELOAD_HEADER, rows), "caseload.csv")


def _rate_bars(table: reports.Table, name: str) -> list[Bar]:
    bars = []
    for row in table.rows:
        value = row.rates.get(name)
        label = row.group.replace("_", " ").lower()
        bars.append(Bar(label, None if value is None else value * 100, None if value is None else f"{value:.0%}"))
    return bars


@get("/reports", guards=[REPORTERS])
async def reports_page(request: AnyRequest, db_session: DbSession) -> Template:
    ctx = _ctx(request, db_session)
    proportionality = await reports.proportionality(ctx)
    outcomes = await reports.outcomes(ctx)
    sections = []
    for table in outcomes.tables[:1]:
        bars = [Bar(r.group.replace("_", " ").lower(), r.total) for r in table.rows]
        sections.append(
            {
                "heading": "How orders ended",
                "table": table,
                "rates": [],
                "chart": horizontal_bars("Ended orders by end outcome", bars),
                "caption": "Ended orders by outcome.",
            }
        )
    verification = {t.dimension: t for t in proportionality.tables if t.title.startswith("Check-in outcomes")}
    compliance = {t.dimension: t for t in outcomes.tables[1:]}
    orders = {t.dimension: t for t in proportionality.tables if t.title.startswith("Orders")}
    for dim in reports.DIMENSIONS:
        label = dim.replace("_", " ")
        sections.append(
            {
                "heading": f"Orders by {label}",
                "table": orders[dim],
                "rates": [],
                "chart": None,
                "caption": "",
            }
        )
        sections.append(
            {
                "heading": f"Face verification by {label}",
                "table": verification[dim],
                "rates": list(verification[dim].rate_definitions),
                "chart": horizontal_bars(
                    f"Share of check-ins verified by {label}", _rate_bars(verification[dim], "verified_rate")
                ),
                "caption": "Verified check-ins as a share of answered check-ins. A group far below the others may "
                "point to a biased matcher.",
            }
        )
        sections.append(
            {
                "heading": f"Compliance and false referrals by {label}",
                "table": compliance[dim],
                "rates": list(compliance[dim].rate_definitions),
                "chart": horizontal_bars(
                    f"False-referral rate by {label}", _rate_bars(compliance[dim], "false_referral_rate")
                ),
                "caption": "Referred check-ins a caseworker then accepted as genuine, as a share of referrals.",
            }
        )
    return page(
        request,
        "reports.html",
        "Evidence reports",
        nav="reports",
        sections=sections,
        threshold=reports.THRESHOLD,
    )


@get("/reports/proportionality.csv", guards=[REPORTERS])
async def proportionality_csv(request: AnyRequest, db_session: DbSession) -> Stream:
    report = await reports.proportionality(_ctx(request, db_session))
    return csv_response(stream_csv(reports.CSV_HEADER, reports.csv_rows(report)), "proportionality.csv")


@get("/reports/outcomes.csv", guards=[REPORTERS])
async def outcomes_csv(request: AnyRequest, db_session: DbSession) -> Stream:
    report = await reports.outcomes(_ctx(request, db_session))
    return csv_response(stream_csv(reports.CSV_HEADER, reports.csv_rows(report)), "outcomes.csv")


PAGE_HANDLERS: list[Any] = [
    queue_page,
    item_page,
    claim_item,
    decide_item,
    revise_item,
    checkin_image,
    wearer_page,
    prompt_wearer,
    wearer_csv,
    caseload_page,
    caseload_csv,
    reports_page,
    proportionality_csv,
    outcomes_csv,
]
