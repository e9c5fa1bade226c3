"""Function-level authorization, generated from the app's own route table so a new route cannot be forgotten:

- every route is either explicitly public (``exclude_from_auth``) or carries a ``requires(...)`` guard;
- a guarded route answers 401 without a token, and 403 to a valid token of every role its guard does not name.

Object-level scoping (another's record answers 404) is specified by each domain package for its own records.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient

from security.actor import DEVICE_ROLES, Actor, Role
from security.auth import route_roles

# Public on purpose: probes, metrics (kept off the public proxy), sign-in steps, device token exchange.
EXPECTED_PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/mfa"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/devices/token"),
    # the caseworker pages' sign-in steps, sign-out, landing redirect and static assets
    ("GET", "/review"),
    ("GET", "/review/sign-in"),
    ("POST", "/review/sign-in"),
    ("GET", "/review/sign-in/code"),
    ("POST", "/review/sign-in/code"),
    ("POST", "/review/sign-out"),
    ("GET", "/static/{file_path:path}"),
    ("HEAD", "/static/{file_path:path}"),
}
_PARAM = re.compile(r"\{(\w+):(\w+)\}")


def _concrete(path: str) -> str:
    samples = {"uuid": str(uuid.uuid4()), "int": "1", "str": "x", "path": "x"}
    return _PARAM.sub(lambda m: samples.get(m.group(2), "x"), path)


def _handlers(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    for route in app.routes:
        for handler in route.route_handlers:
            if not isinstance(handler, HTTPRouteHandler):
                continue
            for method in sorted(handler.http_methods):
                if method == "OPTIONS" or route.path.startswith("/schema"):
                    continue  # CORS preflight; API docs (public in development only, absent in production)
                yield method, route.path, handler


def _session_guarded(handler: HTTPRouteHandler) -> bool:
    """Pages skip the bearer-token layer but are guarded by the page session with roles (``review.websession``);
    their own matrix is in ``tests/review/test_page_matrix.py``."""
    return any(
        getattr(guard, "session", False) and getattr(guard, "roles", None) is not None
        for layer in handler.ownership_layers
        for guard in getattr(layer, "guards", None) or []
    )


def _is_public(handler: HTTPRouteHandler) -> bool:
    # merged with the owners' opts at registration
    return bool(handler.opt.get("exclude_from_auth")) and not _session_guarded(handler)


def _roles(handler: HTTPRouteHandler) -> frozenset[Role] | None:
    return route_roles(handler)


def _actor(role: Role) -> Actor:
    device = uuid.uuid4() if role in DEVICE_ROLES else None
    return Actor(id=device or uuid.uuid4(), role=role, device_id=device, team_id=uuid.uuid4())


async def test_every_route_is_public_on_purpose_or_guarded_by_roles(app: Litestar) -> None:
    unguarded = []
    public = set()
    for method, path, handler in _handlers(app):
        if _is_public(handler):
            public.add((method, path))
        elif _roles(handler) is None:
            unguarded.append(f"{method} {path}")
    assert unguarded == [], "routes without a requires(...) guard"
    assert public <= EXPECTED_PUBLIC, f"new public routes: {sorted(public - EXPECTED_PUBLIC)}"


async def test_each_guarded_route_refuses_no_token_and_every_role_it_does_not_name(app: Litestar) -> None:
    tokens = app.state.tokens
    checked = 0
    failures: list[str] = []
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        for method, path, handler in _handlers(app):
            roles = _roles(handler)
            if _is_public(handler) or roles is None or _session_guarded(handler):
                continue
            url = _concrete(path)
            kwargs: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
            anonymous = await client.request(method, url, **kwargs)
            if anonymous.status_code != 401:
                failures.append(f"{method} {path} without a token: {anonymous.status_code}")
            for role in sorted(set(Role) - roles):
                token, _ = tokens.issue_access_token(_actor(role))
                response = await client.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)
                checked += 1
                if response.status_code != 403:
                    failures.append(f"{method} {path} as {role.value}: {response.status_code}")
    assert failures == []
    assert checked > 0
