"""Authentication middleware, the ``actor`` dependency and role guards.

Every route requires a valid access token unless its handler says ``exclude_from_auth=True`` (no regex exclude
lists). Guards answer 403 for a role that may never call a route; services answer 404 for records outside scope.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Guard

from core.errors import NotAuthenticated, PermissionDenied
from security.actor import STAFF_ROLES, Actor, Role
from security.clientaddr import client_address
from security.revocation import Revocations
from security.tokens import TokenService, actor_from_claims


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        tokens: TokenService,
        revocations: Revocations | None = None,
        trusted_proxies: list[str] | None = None,
    ) -> None:
        super().__init__(app, exclude_from_auth_key="exclude_from_auth", scopes=None)
        self.tokens = tokens
        self.revocations = revocations
        self.trusted_proxies = list(trusted_proxies or [])

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("missing bearer token")
        claims = self.tokens.verify_access_token(token.strip())
        runtime = getattr(connection.app.state, "security", None)
        revocations = self.revocations or (runtime.revocations if runtime is not None else None)
        if revocations is not None and await revocations.is_revoked(claims):
            raise NotAuthenticated("invalid token")
        client = client_address(connection.scope, self.trusted_proxies)
        return AuthenticationResult(user=actor_from_claims(claims, client), auth=claims)


def requires(*roles: Role) -> Guard:
    """A guard that lets only the given roles call a route."""
    allowed = frozenset(roles)

    # async on purpose: Litestar runs a synchronous guard in a worker thread, a thread hop on every request
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, Actor):
            raise NotAuthenticated("not authenticated")
        if user.role not in allowed:
            raise PermissionDenied("your role may not do this")

    guard.roles = allowed  # type: ignore[attr-defined]  # read by the route-by-role test matrix and compliance
    return guard


def requires_staff() -> Guard:
    """Any member of staff (not a device)."""
    return requires(*sorted(STAFF_ROLES))


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    user = request.scope.get("user")
    if not isinstance(user, Actor):
        raise NotAuthenticated("not authenticated")
    return user


def route_roles(handler: BaseRouteHandler) -> frozenset[Role] | None:
    """The roles a registered route handler's ``requires`` guard admits (any layer), or ``None`` when unguarded.
    For the route-by-role test matrix and the compliance evidence."""
    for layer in handler.ownership_layers:
        for guard in getattr(layer, "guards", None) or []:
            roles = getattr(guard, "roles", None)
            if roles is not None:
                return frozenset(roles)
    return None
