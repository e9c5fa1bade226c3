"""Rendering helpers shared by the pages: the template context every page needs, error pages, redirects."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Redirect, Template

from core.errors import DomainError
from review.websession import SignInRequired, csrf_token, session_data
from security.actor import Actor, Role

REPORT_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def page(
    request: Request[Any, Any, Any],
    template: str,
    title: str,
    *,
    status_code: int = 200,
    errors: list[tuple[str, str]] | None = None,
    **context: Any,
) -> Template:
    user = request.scope.get("user")
    signed_in = isinstance(user, Actor)
    return Template(
        template_name=template,
        context={
            "title": title,
            "csrf": csrf_token(request),
            "signed_in": signed_in,
            "user_name": session_data(request).get("name", "") if signed_in else "",
            "user_role": user.role.value.replace("_", " ") if signed_in else "",
            "can_report": signed_in and user.role in REPORT_ROLES,
            "error_summary": errors or [],
            **context,
        },
        status_code=status_code,
        media_type="text/html",
    )


def see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


def sign_in_redirect(_request: Request[Any, Any, Any], _exc: SignInRequired) -> Response[Any]:
    return see_other("/review/sign-in")


_HEADINGS = {
    400: "There is a problem with the request",
    401: "You need to sign in",
    403: "You cannot do that",
    404: "Page not found",
    409: "Someone else is working on this",
    413: "That is too large",
    422: "There is a problem",
    429: "Too many attempts",
}


def error_page(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    heading = _HEADINGS.get(exc.status, "Sorry, there is a problem")
    detail = exc.detail if exc.status != 404 else "It may have been moved, or it is not in your caseload."
    return page(request, "error.html", heading, status_code=exc.status, heading=heading, detail=detail)
