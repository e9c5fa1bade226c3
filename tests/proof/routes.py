"""The app's operations as the proof tests see them: read from its route table and OpenAPI schema, so routes that
land later are covered without editing the tests."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

#: Documentation pages, not API operations.
NOT_API = ("/schema",)


def fuzzable_operations(schema: Any) -> list[Any]:
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(NOT_API):
            continue
        operations.append(operation)
    return sorted(operations, key=lambda op: (op.path, op.method))


def handlers_by_operation(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    """``(path as in OpenAPI, METHOD)`` to the route handler serving it."""
    table: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    table[(route.path_format or "/", method.upper())] = handler
    return table
