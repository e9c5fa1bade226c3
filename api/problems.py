"""Every error leaves as RFC 9457 ``application/problem+json``: no stack traces, SQL or internal paths."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

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


def _raised_while_parsing(exc: BaseException) -> bool:
    """Whether the exception came out of decoding a request body (Litestar's msgspec hooks)."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name.startswith("decode_") and "serialization" in code.co_filename:
            return True
        tb = tb.tb_next
    return False


def recursion_error_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """A body nested deeper than the decoder's recursion limit is the client's doing (400); anywhere else, a bug."""
    if _raised_while_parsing(exc):
        return problem(request, 400, "The request body is nested too deeply", type_slug="invalid-request")
    return internal_error_handler(request, exc)


def _sqlstate(exc: DBAPIError) -> str:
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return ""


#: SQLSTATE classes of a database that is gone or going: connection exceptions, operator intervention (shutdown).
_UNREACHABLE_STATES = ("08", "57P")


def _unreachable(exc: BaseException) -> bool:
    """Whether the exception (or one it came from) says a backing service could not be reached or went away."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | RedisConnectionError | RedisTimeoutError):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = str(getattr(current, "sqlstate", "") or "")
        if state.startswith(_UNREACHABLE_STATES) or type(current).__name__ == "ConnectionDoesNotExistError":
            return True
        current = current.__cause__ or current.__context__
    return False


def unavailable_handler(request: Request[Any, Any, Any], exc: BaseException) -> Response[dict[str, Any]]:
    """The database or Redis is down or restarting: 503 with ``Retry-After``, so clients and the balancer back off
    and retry rather than treat it as a fault in the request (and ``/readyz`` says the same)."""
    if not _unreachable(exc):
        return internal_error_handler(request, exc)
    log.warning("backing service unavailable", path=request.scope.get("path_template", "?"), error=type(exc).__name__)
    return problem(
        request,
        503,
        "A service this request needs is unavailable; try again shortly",
        type_slug="service-unavailable",
        headers={"Retry-After": "5"},
    )


def database_error_handler(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """The database refusing a value the schema let through (SQLSTATE class 22, e.g. PostgreSQL and a NUL character
    in text, or a number beyond its column) is bad input: 422. A uniqueness or reference rule met by a request racing
    another (class 23) is a conflict: 409. Anything else is ours: 500. The driver's message, which quotes the SQL and
    its parameters, stays out of the answer and out of the log."""
    state = _sqlstate(exc)
    path = request.scope.get("path_template", "?")
    if _unreachable(exc):
        return unavailable_handler(request, exc)
    if "database is locked" in str(exc.orig):
        # SQLite (development, one process) under concurrent writes: busy, not broken; the client may retry
        log.warning("database busy", path=path)
        return problem(
            request, 503, "The database is busy; try again shortly", type_slug="busy", headers={"Retry-After": "1"}
        )
    if state.startswith("22") or isinstance(exc, DataError):
        log.warning("database refused a value", path=path, sqlstate=state)
        return problem(request, 422, "A value in the request cannot be stored", type_slug="unstorable-value")
    if state.startswith("23") or isinstance(exc, IntegrityError):
        log.warning("integrity conflict", path=path, sqlstate=state)
        return problem(request, 409, "The request conflicts with the current state of a record", type_slug="conflict")
    return internal_error_handler(request, exc)


def internal_error_handler(request: Request[Any, Any, Any], exc: BaseException) -> Response[dict[str, Any]]:
    if _unreachable(exc):  # e.g. a connection refused inside a library that wrapped it in its own exception
        return unavailable_handler(request, exc)
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
    RecursionError: recursion_error_handler,
    DBAPIError: database_error_handler,
    ConnectionError: unavailable_handler,
    RedisConnectionError: unavailable_handler,
    RedisTimeoutError: unavailable_handler,
    Exception: internal_error_handler,
}


# ---- OpenAPI: what every operation may answer besides its success -------------------------------------------------


class FieldProblem(msgspec.Struct, kw_only=True):
    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem. Some problems carry more members (``code``, ``errors``, ``checks``, ``retry_after``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    code: str | None = None
    errors: list[FieldProblem] | None = None


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _problem_statuses(handler: Any, methods: set[str], has_path_params: bool) -> list[int]:
    """The error statuses an operation can answer, from what it is: every route can be rate limited or fail; a guarded
    route can refuse; a route with input can find it invalid or too large; a route naming a record can miss it."""
    statuses = {429, 500, 503}
    signature = handler.parsed_fn_signature.parameters
    takes_input = bool(signature) or bool(methods & _BODY_METHODS)
    if takes_input:
        statuses |= {400, 401}  # a public route taking input may still judge credentials in it (login, refresh)
    if not handler.opt.get("exclude_from_auth"):
        statuses |= {401, 403, 404}
    if has_path_params:
        statuses.add(404)
    if methods & _BODY_METHODS:
        statuses |= {404, 409, 413, 415, 422}
    return sorted(statuses)


def document_problem_responses(app: Litestar) -> None:
    """Declare the problem+json error responses of every operation in the OpenAPI schema, where Litestar would
    otherwise document its own ``{status_code, detail}`` JSON body for 400 and nothing for the other statuses.

    Run once, after the app is built and before its schema is first generated. A handler's own ``responses`` win.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            methods = {str(m).upper() for m in handler.http_methods}
            declared = dict(handler.responses or {})
            for status in _problem_statuses(handler, methods, bool(route.path_parameters)):
                if status == handler.status_code or status in declared:
                    continue
                declared[status] = ResponseSpec(
                    data_container=Problem,
                    media_type=PROBLEM_JSON,
                    description=_TITLES.get(status, "Error"),
                    generate_examples=False,
                )
            handler.responses = declared
