"""Every operation in the OpenAPI schema, fuzzed with schemathesis as every staff role and as nobody: the app never
answers 5xx, and every answer is one the schema documents (status, content type, body, headers).

The operations come from the app's own schema, so routes added later are fuzzed without changing this file. The
budget is bounded: a few examples per operation and role, derandomised so a failure reproduces, no shrinking.
"""

from __future__ import annotations

import time
import unittest
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from litestar import Litestar
from litestar.testing import TestClient
from requests.structures import CaseInsensitiveDict
from schemathesis import DataGenerationMethod
from schemathesis.exceptions import SkipTest as SchemathesisSkip
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.settings import Settings
from security.actor import Actor, Role
from security.auth import route_roles
from tests.conftest import TEST_HOST
from tests.proof.routes import fuzzable_operations, handlers_by_operation

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
# Litestar writes OpenAPI 3.1, which schemathesis 3.x reads behind a flag
schemathesis.experimental.OPEN_API_3_1.enable()

ROLES: list[Role | None] = [None, Role.FIELD_OFFICER, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN]
#: The whole fuzz run sends about this many requests, shared between operations and roles (at least 3 each).
REQUEST_BUDGET = 3000
MAX_EXAMPLES = 12
_NOT_NEGATABLE: set[str] = set()
CHECKS = (
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
)


@pytest.fixture
def backend() -> str:
    """Fuzzing runs on SQLite only: the point is the HTTP surface, and PostgreSQL doubles the time."""
    return "sqlite"


@pytest.fixture
def fuzz_settings(settings_for: Callable[..., Settings]) -> Settings:
    # no per-address API limit: one client sends everything, and 429s would hide the routes behind them
    return settings_for(EMON_SECURITY_API_RATE_PER_MINUTE="1000000", EMON_LOGGING_LEVEL="ERROR")


@pytest.fixture
async def actors(db: Any, make_staff: Callable[..., Any]) -> dict[Role, Actor]:
    team = "fuzz"
    return {role: await make_staff(role, team=team) for role in ROLES if role is not None}


@pytest.fixture
def fuzz_client(fuzz_settings: Settings, db: Any) -> Iterator[tuple[Litestar, TestClient[Litestar]]]:
    app = create_app(fuzz_settings)
    with TestClient(app, base_url=f"http://{TEST_HOST}", raise_server_exceptions=False) as client:
        yield app, client


def _send(client: TestClient[Litestar], case: Any, headers: dict[str, str]) -> Any:
    kwargs = case.as_transport_kwargs(base_url=f"http://{TEST_HOST}", headers=headers)
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()},
        "params": kwargs.get("params"),
        "cookies": kwargs.get("cookies"),
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), (bytes, str)):
        request["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        request["data"] = kwargs["data"]
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    return _as_requests_response(client.request(**request))


def _as_requests_response(response: Any) -> requests.Response:
    """schemathesis 3 reports failures from a ``requests`` response; the Litestar test client answers with httpx."""
    converted = requests.Response()
    converted.status_code = response.status_code
    converted._content = response.content
    converted.headers = CaseInsensitiveDict(response.headers.multi_items())
    converted.url = str(response.request.url)
    converted.encoding = response.encoding
    converted.elapsed = response.elapsed
    converted.request = requests.Request(
        response.request.method, str(response.request.url), headers=dict(response.request.headers)
    ).prepare()
    return converted


def _fuzz_operation(operation: Any, examples: int, send: Callable[[Any], Any], failures: list[str]) -> int:
    sent = 0

    @given(case=operation.as_strategy(data_generation_method=DataGenerationMethod.negative))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def negative(case: Any) -> None:
        run(case)

    @given(case=operation.as_strategy(data_generation_method=DataGenerationMethod.positive))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def positive(case: Any) -> None:
        run(case)

    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = send(case)
        where = f"{case.method} {case.formatted_path}"
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:300]}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as exc:
            failures.append(f"{where} -> {response.status_code}: {str(exc).strip()[:600]}")

    # a path parameter alone cannot be made invalid and still be sent (schemathesis gives up after seconds)
    # Invalid bodies are the hostile-JSON test's job (every field, every route, quickly); here schemathesis makes
    # invalid query strings only: its negative body strategies spend tens of seconds on some nested schemas.
    negatable = bool(len(operation.query) or len(operation.headers) or len(operation.cookies))
    negatable = negatable and operation.verbose_name not in _NOT_NEGATABLE
    for strategy in (positive, negative) if negatable else (positive,):
        try:
            strategy()
        except (hypothesis.errors.Unsatisfiable, unittest.SkipTest, SchemathesisSkip):
            # no invalid input can be expressed for this operation; remembered, because finding out takes seconds
            if strategy is negative:
                _NOT_NEGATABLE.add(operation.verbose_name)
    return sent


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_every_operation_answers_as_documented_and_never_5xx(
    role: Role | None,
    actors: dict[Role, Actor],
    fuzz_client: tuple[Litestar, TestClient[Litestar]],
) -> None:
    app, client = fuzz_client
    schema = schemathesis.from_dict(app.openapi_schema.to_schema())
    operations = fuzzable_operations(schema)
    assert operations, "the schema lists no operations"
    examples = max(3, min(MAX_EXAMPLES, REQUEST_BUDGET // (2 * len(operations) * len(ROLES))))
    headers: dict[str, str] = {}
    if role is not None:
        token, _ = app.state.tokens.issue_access_token(actors[role])
        headers["Authorization"] = f"Bearer {token}"
    handlers = handlers_by_operation(app)
    failures: list[str] = []
    started = time.monotonic()
    sent = 0
    slow: list[str] = []
    for operation in operations:
        handler = handlers[(operation.path, operation.method.upper())]
        admitted = route_roles(handler)
        public = bool(handler.opt.get("exclude_from_auth"))
        # a caller the guard turns away gets one try per kind of input: the refusal must be documented too
        refused = (role is None and not public) or (role is not None and admitted is not None and role not in admitted)
        op_started = time.monotonic()
        sent += _fuzz_operation(
            operation, 1 if refused else examples, lambda case: _send(client, case, headers), failures
        )
        if time.monotonic() - op_started > 3:
            slow.append(f"{operation.verbose_name} {time.monotonic() - op_started:.1f}s")
    took = time.monotonic() - started
    print(f"fuzz[{role}]: {len(operations)} operations, {sent} requests in {took:.1f} s; slow: {slow}")
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} failing answer(s):\n" + "\n".join(unique[:40])
