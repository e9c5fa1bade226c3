"""Every field work route declares who may call it, and answers only with a bearer token."""

from __future__ import annotations

from litestar import Litestar

from security.actor import Role


def fieldwork_handlers(app: Litestar):  # type: ignore[no-untyped-def]
    for route in app.routes:
        if not route.path.startswith("/api/v1/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            if "OPTIONS" in handler.http_methods and len(handler.http_methods) == 1:
                continue
            if not getattr(handler.fn, "__module__", "").startswith("fieldwork."):
                continue  # other packages' routes have their own specifications
            yield route.path, handler


def test_every_route_is_guarded_by_roles_and_none_is_public(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from api.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    seen = 0
    for path, handler in fieldwork_handlers(app):
        roles = [getattr(getattr(guard, "func", guard), "roles", None) for guard in handler.resolve_guards()]
        assert any(roles), f"{path} {handler.http_methods} has no role guard"
        assert not handler.opt.get("exclude_from_auth"), path
        assert Role.WATCH not in set().union(*(r for r in roles if r)), f"{path} lets a watch in"
        seen += 1
    assert seen >= 20
