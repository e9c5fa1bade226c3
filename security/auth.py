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
from security.actor import Actor, Role
from security.tokens import TokenService, actor_from_claims


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, tokens: TokenService) -> None:
        super().__init__(app, exclude_from_auth_key="exclude_from_auth", scopes=None)
        self.tokens = tokens

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("missing bearer token")
        claims = self.tokens.verify_access_token(token.strip())
        revoked = getattr(connection.app.state, "is_token_revoked", None)
        if revoked is not None and await revoked(claims["jti"]):
            raise NotAuthenticated("invalid token")
        client = connection.client.host if connection.client else None
        return AuthenticationResult(user=actor_from_claims(claims, client), auth=claims)


def requires(*roles: Role) -> Guard:
    """A guard that lets only the given roles call a route."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, Actor):
            raise NotAuthenticated("not authenticated")
        if user.role not in allowed:
            raise PermissionDenied("your role may not do this")

    guard.roles = allowed  # type: ignore[attr-defined]  # read by the route-by-role test matrix and compliance
    return guard


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    user = request.scope.get("user")
    if not isinstance(user, Actor):
        raise NotAuthenticated("not authenticated")
    return user
