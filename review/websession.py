"""Cookie sessions for the caseworker pages, kept on the server, and the CSRF token bound to each session.

- The cookie holds only a random session id: HttpOnly, SameSite=Strict, Secure in production, path ``/``.
- Session data lives in the app's store (Redis when ``EMON_REDIS_URL`` is set, else this process's memory).
- Idle (``EMON_SECURITY_SESSION_IDLE_SECONDS``) and absolute (``EMON_SECURITY_SESSION_ABSOLUTE_SECONDS``) limits
  are checked on every page; an expired session is emptied and the browser is sent to sign in again.
- Signing in rotates the session id (the pre-sign-in id, which an attacker might have planted, dies).
- Every POST must carry the session's CSRF token (a synchroniser token compared in constant time).
- Pages are ``exclude_from_auth`` at the bearer-token layer; :func:`page_requires` is their guard and puts the
  same :class:`~security.actor.Actor` on the connection that the token middleware would.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.types import Guard, Message, ScopeSession

from core.clock import utcnow
from core.errors import NotAuthenticated, PermissionDenied
from core.settings import Settings
from security.actor import Actor, Role

COOKIE = "emon_session"
STORE = "review_sessions"
CSRF_FIELD = "csrf_token"
_ROTATE = "_rotate"
_NEW_ID = "emon.new_session_id"


class SignInRequired(NotAuthenticated):
    """No live session: pages answer with a redirect to the sign-in page rather than a problem document."""


def session_store(settings: Settings) -> Store:
    if settings.redis.url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=settings.redis.url, namespace=f"{settings.redis.prefix}:sessions")
    return MemoryStore()


class RotatingSessionBackend(ServerSideSessionBackend):
    """The standard server-side backend, plus a new id when the session asks for one (at sign-in)."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        new_id = connection.scope.get("state", {}).get(_NEW_ID)
        return str(new_id) if new_id else super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        if isinstance(scope_session, dict) and scope_session.pop(_ROTATE, False):
            old = connection.cookies.get(self.config.key)
            if old:
                await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
            connection.scope.setdefault("state", {})[_NEW_ID] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)


@dataclass
class WebSessionConfig(ServerSideSessionConfig):
    _backend_class: type[ServerSideSessionBackend] = field(default=RotatingSessionBackend, init=False)


def session_config(settings: Settings) -> WebSessionConfig:
    return WebSessionConfig(
        key=COOKIE,
        store=STORE,
        max_age=settings.security.session_absolute_seconds,
        httponly=True,
        secure=settings.is_production,
        samesite="strict",
        path="/",
        renew_on_access=False,
    )


def _now_ts() -> float:
    return utcnow().timestamp()


def session_data(request: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The session's data, or an empty dict when there is none (or it was just cleared)."""
    data = request.scope.get("session")
    return data if isinstance(data, dict) else {}


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The session's CSRF token, created with the session when there is none yet."""
    data = session_data(request)
    token = data.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.set_session({**data, "csrf": token})
    return str(token)


async def verify_csrf(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook of the pages: every unsafe request carries the session's token."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    expected = session_data(request).get("csrf")
    form = await request.form()
    submitted = form.get(CSRF_FIELD) or request.headers.get("x-csrf-token") or ""
    if not expected or not hmac.compare_digest(str(expected), str(submitted)):
        raise PermissionDenied("The form has expired or did not come from this site. Go back, reload and try again.")


def start_session(
    request: Request[Any, Any, Any], actor: Actor, *, name: str, refresh_token: str | None, access_jti: str | None
) -> None:
    """Replace whatever session there was with a signed-in one, under a new id, with a new CSRF token."""
    now = _now_ts()
    request.set_session(
        {
            _ROTATE: True,
            "csrf": secrets.token_urlsafe(32),
            "actor": {"id": str(actor.id), "role": actor.role.value, "team_id": str(actor.team_id or "")},
            "name": name,
            "refresh": refresh_token or "",
            "jti": access_jti or "",
            "started": now,
            "seen": now,
        }
    )


def pending_mfa(request: Request[Any, Any, Any], mfa_token: str, username: str) -> None:
    """Between the password and the code: the challenge is held server-side, never in the page."""
    request.set_session({**session_data(request), "mfa": mfa_token, "username": username[:80]})


def session_actor(request: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> Actor | None:
    """The signed-in actor, or ``None`` when there is no session or it ran out (which also empties it)."""
    data = session_data(request)
    raw = data.get("actor")
    if not raw:
        return None
    now = _now_ts()
    started, seen = float(data.get("started", 0)), float(data.get("seen", 0))
    if (
        now - seen > settings.security.session_idle_seconds
        or now - started > settings.security.session_absolute_seconds
    ):
        request.clear_session()
        return None
    request.set_session({**data, "seen": now})
    client = request.client.host if request.client else None
    return Actor(
        id=uuid.UUID(raw["id"]),
        role=Role(raw["role"]),
        team_id=uuid.UUID(raw["team_id"]) if raw.get("team_id") else None,
        client_address=client,
    )


def page_requires(*roles: Role) -> Guard:
    """The pages' guard: a live session whose role is one of ``roles``; sets ``scope["user"]`` to its actor."""
    allowed = frozenset(roles)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        actor = session_actor(connection, connection.app.state.settings)
        if actor is None:
            raise SignInRequired("sign in to continue")
        if actor.role not in allowed:
            raise PermissionDenied("your role may not use these pages")
        connection.scope["user"] = actor

    guard.roles = allowed  # type: ignore[attr-defined]  # read by the route-by-role test matrix
    guard.session = True  # type: ignore[attr-defined]  # authenticated by the page session, not a bearer token
    return guard
