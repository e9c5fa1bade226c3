"""Domain exceptions. Packages raise these; ``api`` maps each to one RFC 9457 problem+json response."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a caller can cause and be told about."""

    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.extra = extra


class ValidationFailed(DomainError):
    """Input is well-formed but breaks the rules; ``errors`` lists every problem with its field path."""

    status = 422
    type_slug = "validation-failed"
    title = "Validation failed"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.errors = errors or []


class NotAuthenticated(DomainError):
    status = 401
    type_slug = "not-authenticated"
    title = "Not authenticated"


class PermissionDenied(DomainError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    """Also what a caller sees for a record that exists but is outside their scope."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class PolicyViolation(DomainError):
    """The request is understood but a security or business policy refuses it."""

    status = 422
    type_slug = "policy-violation"
    title = "Policy violation"


class PayloadTooLarge(DomainError):
    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMedia(DomainError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"


class RateLimited(DomainError):
    status = 429
    type_slug = "rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, limit: int | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after
        self.limit = limit


class ServiceUnavailable(DomainError):
    status = 503
    type_slug = "service-unavailable"
    title = "Service unavailable"
