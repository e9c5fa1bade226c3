"""The running service: probes, errors as problem+json, request ids, security headers and metrics."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Litestar]


async def test_healthz_answers_ok(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database_reachable(client: Client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_readyz_answers_503_when_the_database_is_gone(settings_for, db) -> None:  # type: ignore[no-untyped-def]
    from api.app import create_app

    app = create_app(settings_for(EMON_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:9/none"))
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["checks"]["database"].startswith("unavailable")
    assert "nobody" not in response.text
    assert "127.0.0.1:9" not in response.text


async def test_unknown_route_is_a_problem_json_404_with_a_request_id(client: Client) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not found"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_wrong_method_is_a_problem_json_405(client: Client) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_host_is_refused_with_a_problem(client: Client) -> None:
    response = await client.get("/healthz", headers={"host": "attacker.example"})
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-host")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_well_formed_incoming_request_id_is_kept_and_a_bad_one_replaced(client: Client) -> None:
    kept = await client.get("/healthz", headers={"x-request-id": "abc-123-def-456"})
    assert kept.headers["x-request-id"] == "abc-123-def-456"
    replaced = await client.get("/healthz", headers={"x-request-id": "<script>"})
    assert replaced.headers["x-request-id"] != "<script>"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_every_response_carries_the_security_headers(client: Client) -> None:
    for path in ("/healthz", "/missing"):
        headers = (await client.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers  # development: HSTS is for production behind TLS


async def test_metrics_label_requests_by_route_template_not_raw_path(client: Client) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path/12345")
    text = (await client.get("/metrics")).text
    assert 'path="/healthz"' in text
    assert "12345" not in text


async def test_openapi_schema_is_served_in_development(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.1")


PRODUCTION = {
    "EMON_ENV": "production",
    "EMON_SECURITY_SECRET_KEY": "s" * 40,
    "EMON_SECURITY_AUDIT_HMAC_KEY": "t" * 40,
    "EMON_ALLOW_SQLITE_IN_PRODUCTION": "true",
    "EMON_BIOMETRICS_TEMPLATE_KEYS": "k1:" + "A" * 44,
}


async def _production_client(settings_for, tmp_path, **extra: str):  # type: ignore[no-untyped-def]
    from api.app import create_app
    from security.tokens import generate_key, write_key

    keys = tmp_path / "keys"
    write_key(keys, "prod1", generate_key("EdDSA"))
    app = create_app(settings_for(**PRODUCTION, EMON_SECURITY_JWT_KEYS_DIR=str(keys), **extra))
    return app, AsyncTestClient(app, base_url="http://testserver.local")


async def test_production_serves_no_schema_by_default(settings_for, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, client = await _production_client(settings_for, tmp_path)
    async with client:
        assert (await client.get("/schema/openapi.json")).status_code == 404
        response = await client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_production_schema_when_enabled_is_for_admins_only(settings_for, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from security.actor import Actor, Role

    app, client = await _production_client(settings_for, tmp_path, EMON_HTTP_OPENAPI_IN_PRODUCTION="true")
    async with client:
        assert (await client.get("/schema/openapi.json")).status_code == 401
        for role, status in ((Role.CASEWORKER, 403), (Role.ADMIN, 200)):
            token, _ = app.state.tokens.issue_access_token(Actor(id=uuid.uuid4(), role=role))
            response = await client.get("/schema/openapi.json", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status


async def test_production_metrics_need_the_scraper_token(settings_for, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, client = await _production_client(settings_for, tmp_path, EMON_HTTP_METRICS_TOKEN="m" * 40)
    async with client:
        assert (await client.get("/metrics")).status_code == 401
        ok = await client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
    assert ok.status_code == 200


async def test_production_without_a_scraper_token_serves_no_metrics(settings_for, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, client = await _production_client(settings_for, tmp_path)
    async with client:
        assert (await client.get("/metrics")).status_code == 404
