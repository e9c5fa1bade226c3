"""Every error leaves as RFC 9457 ``application/problem+json``: no stack traces, SQL or internal paths."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from core.errors import DomainError, RateLimited, ValidationFailed
from core.logs import get_logger

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://emon.example/problems/"
log = get_logger("emon.errors")

_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    request: Request[Any, Any, Any] | None,
    status: int,
    detail: str,
    *,
    type_slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (type_slug or str(status)),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    extra: dict[str, Any] = dict(exc.extra)
    headers: dict[str, str] | None = None
    if exc.code:
        extra["code"] = exc.code
    if isinstance(exc, ValidationFailed):
        extra["errors"] = exc.errors
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        if exc.limit is not None:
            headers.update(
                {"RateLimit-Limit": str(exc.limit), "RateLimit-Remaining": "0", "RateLimit-Reset": str(exc.retry_after)}
            )
    return problem(request, exc.status, exc.detail, type_slug=exc.type_slug, title=exc.title, headers=headers, **extra)


def _validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append({"field": str(item.get("key", "")), "message": str(item.get("message", ""))[:300]})
    return errors


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        return internal_error_handler(request, exc)
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc)
        detail = "The request body or parameters are not valid"
        return problem(request, 400, detail, type_slug="invalid-request", errors=errors or None)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else _TITLES.get(status, "Error")
    headers = dict(exc.headers) if exc.headers else None
    return problem(request, status, detail, headers=headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled error", path=request.scope.get("path_template", "?"), exc_info=exc)
    return problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. Quote the request id if you contact support.",
        type_slug="internal-error",
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}
