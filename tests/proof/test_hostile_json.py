"""Hostile requests against every operation that takes a body, and garbage in every path parameter: the answer is a
4xx problem+json (or, for a hostile but well-formed value, possibly a success), never a 5xx.

Operations come from the app's OpenAPI schema and route table, so routes added later are covered automatically.
Runs on SQLite and on PostgreSQL (which refuses NUL characters in text, where SQLite stores them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from core.settings import Settings
from security.actor import Actor, Role
from security.auth import route_roles
from tests.conftest import TEST_HOST
from tests.proof.hostile_json import MALFORMED, encode, field_variants, skeleton
from tests.proof.routes import NOT_API, handlers_by_operation

BODY_METHODS = {"post", "put", "patch", "delete"}
WRONG_CONTENT_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "",
]
BAD_PATH_VALUES = ["not-a-uuid", "..%2F..%2Fetc%2Fpasswd", "%00", "a" * 3000, "-1", "%F0%9F%92%A9", "1e999"]


@pytest.fixture
def settings(settings_for: Callable[..., Settings]) -> Settings:
    return settings_for(EMON_SECURITY_API_RATE_PER_MINUTE="1000000", EMON_LOGGING_LEVEL="ERROR")


class Caller:
    """Authorization headers for a caller the operation's guard admits (so hostile bodies reach the handler)."""

    def __init__(self, app: Litestar, staff: dict[Role, Actor]) -> None:
        self.app = app
        self.staff = staff
        self.device = Actor(id=uuid.uuid4(), role=Role.WATCH, device_id=uuid.uuid4(), wearer_id=uuid.uuid4())

    def headers_for(self, handler: Any) -> dict[str, str]:
        if handler.opt.get("exclude_from_auth"):
            return {}
        admitted = route_roles(handler) or frozenset({Role.ADMIN})
        staff = [r for r in (Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER, Role.FIELD_OFFICER) if r in admitted]
        if staff:
            actor = self.staff[staff[0]]
        else:
            role = next(iter(admitted))
            actor = Actor(
                id=self.device.id, role=role, device_id=self.device.device_id, wearer_id=self.device.wearer_id
            )
        token, _ = self.app.state.tokens.issue_access_token(actor)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def caller(app: Litestar, make_staff: Callable[..., Any]) -> Caller:
    staff = {r: await make_staff(r, team="hostile") for r in (Role.ADMIN, Role.SUPERVISOR, Role.CASEWORKER)}
    staff[Role.FIELD_OFFICER] = await make_staff(Role.FIELD_OFFICER, team="hostile")
    return Caller(app, staff)


def _operations(app: Litestar) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi_schema.to_schema()
    found = []
    for path, item in spec["paths"].items():
        if path.startswith(NOT_API):
            continue
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((path, method, operation))
    return found


def _fill_path(path: str, operation: dict[str, Any], override: str | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        if override is not None:
            return override
        name = match.group(1)
        param = next((p for p in operation.get("parameters", []) if p.get("name") == name), {})
        schema = param.get("schema", {})
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        if schema.get("type") == "integer":
            return "1"
        return "a" * 64  # a sha256-shaped string: the one string key the API uses

    return re.sub(r"\{([^}]+)\}", value, path)


def _judge(
    failures: list[str], label: str, response: Any, *, must_refuse: bool, expected: set[int] | None = None
) -> None:
    status = response.status_code
    if status >= 500:
        failures.append(f"{label}: {status} {response.text[:200]}")
        return
    if must_refuse and not 400 <= status < 500:
        failures.append(f"{label}: accepted with {status}")
        return
    if expected is not None and status not in expected and status not in (401, 403, 429):
        failures.append(f"{label}: {status}, expected one of {sorted(expected)}")
    if status >= 400:
        content_type = response.headers.get("content-type", "")
        if not content_type.startswith("application/problem+json"):
            failures.append(f"{label}: {status} as {content_type!r}, not problem+json")
        elif response.json().get("status") != status:
            failures.append(f"{label}: problem status {response.json().get('status')} != {status}")


async def test_hostile_bodies_and_path_values_never_cause_a_5xx(app: Litestar, caller: Caller) -> None:
    spec = app.openapi_schema.to_schema()
    handlers = handlers_by_operation(app)
    failures: list[str] = []
    sent = 0
    async with AsyncTestClient(app, base_url=f"http://{TEST_HOST}") as client:
        for path, method, operation in _operations(app):
            handler = handlers[(path, method.upper())]
            auth = caller.headers_for(handler)
            url = _fill_path(path, operation)
            where = f"{method.upper()} {path}"

            if "{" in path:
                for bad in BAD_PATH_VALUES:
                    response = await client.request(method, _fill_path(path, operation, bad), headers=auth)
                    sent += 1
                    _judge(failures, f"{where} path={bad[:20]}", response, must_refuse=True)

            if method not in BODY_METHODS:
                continue
            json_body = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
            base = skeleton(json_body["schema"], spec) if json_body else {}
            json_headers = {**auth, "Content-Type": "application/json"}

            for name, content in MALFORMED:
                response = await client.request(method, url, content=content, headers=json_headers)
                sent += 1
                _judge(failures, f"{where} [{name}]", response, must_refuse=bool(json_body))

            for name, content in field_variants(base):
                response = await client.request(method, url, content=content, headers=json_headers)
                sent += 1
                _judge(failures, f"{where} [{name}]", response, must_refuse=False)

            cap = handler.resolve_request_max_body_size()
            if cap is not None and json_body:  # a route that never reads its body has nothing to refuse
                oversized = b'{"x":"' + b"a" * cap + b'"}'
                response = await client.request(method, url, content=oversized, headers=json_headers)
                sent += 1
                _judge(failures, f"{where} [{cap + 9} bytes]", response, must_refuse=True, expected={413})

            if json_body:
                for content_type in WRONG_CONTENT_TYPES:
                    headers = {**auth, "Content-Type": content_type} if content_type else dict(auth)
                    response = await client.request(method, url, content=encode(base), headers=headers)
                    sent += 1
                    _judge(
                        failures,
                        f"{where} [as {content_type or 'no type'}]",
                        response,
                        must_refuse=True,
                        expected={415},
                    )
    print(f"hostile json: {sent} requests")
    assert sent > 0
    assert not failures, f"{len(failures)} bad answer(s):\n" + "\n".join(failures[:60])
