"""Live endpoint checks against real servers on 127.0.0.1: every check fails on the bad one, passes on the good one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from compliance.model import Status, Surface
from compliance.registry import checks_for
from compliance.runner import Inputs
from compliance.surfaces.endpoint import EndpointContext, EndpointOptions, build_context

from .conftest import only, results, statuses
from .servers import AUDIENCE, ISSUER, ServerThread, bad_app, bad_tls, good_app, good_tls

PROTECTED = ("/api/v1/orders",)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


@pytest.fixture(scope="module")
def server_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def good(certs: Path, server_key: ed25519.Ed25519PrivateKey) -> Iterator[tuple[ServerThread, Path]]:
    ctx, cert = good_tls(certs)
    with ServerThread(good_app(server_key), ctx) as server:
        yield server, cert


@pytest.fixture(scope="module")
def bad(certs: Path) -> Iterator[ServerThread]:
    ctx, _ = bad_tls(certs)
    with ServerThread(bad_app(), ctx) as server:
        yield server


@pytest.fixture(scope="module")
def plain(server_key: ed25519.Ed25519PrivateKey) -> Iterator[ServerThread]:
    with ServerThread(good_app(server_key), None) as server:
        yield server


def endpoint(url: str, *, production: bool = True, **options: Any) -> EndpointContext:
    opts = EndpointOptions(
        url=url,
        production=production,
        protected_paths=PROTECTED,
        issuer=ISSUER,
        audience=AUDIENCE,
        timeout=3.0,
        **options,
    )
    return build_context(Inputs(endpoint=opts))


ALL = [c.id for c, _ in checks_for(Surface.ENDPOINT)]


@pytest.mark.parametrize("check_id", ALL)
async def test_every_endpoint_check_fails_on_the_bad_server(bad: ServerThread, check_id: str) -> None:
    ctx = endpoint(bad.url)
    try:
        found = await results(check_id, ctx)
    finally:
        ctx.close()
    assert Status.FAIL in {r.status for r in found}, [(r.resource, r.status, r.message) for r in found]


@pytest.mark.parametrize("check_id", ALL)
async def test_every_endpoint_check_passes_on_the_good_server(good: tuple[ServerThread, Path], check_id: str) -> None:
    server, cert = good
    ctx = endpoint(server.url, ca_file=cert)
    try:
        found = await results(check_id, ctx)
    finally:
        ctx.close()
    assert {r.status for r in found} == {Status.PASS}, [(r.resource, r.status, r.message) for r in found]


async def test_a_self_signed_certificate_is_not_trusted_without_its_ca(good: tuple[ServerThread, Path]) -> None:
    server, _ = good
    ctx = endpoint(server.url)
    try:
        assert only(await statuses("EP-005", ctx)) is Status.FAIL
    finally:
        ctx.close()


async def test_tokens_signed_with_the_trusted_key_still_fail_on_claims(
    good: tuple[ServerThread, Path], server_key: ed25519.Ed25519PrivateKey
) -> None:
    server, _ = good
    ctx = endpoint(server.url, signing_key=server_key)
    try:
        for check_id in ("EP-019", "EP-020"):
            found = await results(check_id, ctx)
            assert only(r.status for r in found) is Status.PASS
            assert found[0].evidence.values["trusted_key"] is True
    finally:
        ctx.close()


async def test_plain_http_is_not_applicable_in_development_and_fails_in_production(plain: ServerThread) -> None:
    for production, expected in ((False, Status.NOT_APPLICABLE), (True, Status.FAIL)):
        ctx = endpoint(plain.url, production=production)
        try:
            for check_id in ("EP-001", "EP-002", "EP-003", "EP-004", "EP-005", "EP-006"):
                assert only(await statuses(check_id, ctx)) is expected
        finally:
            ctx.close()


async def test_auth_probes_without_a_protected_path_report_error(good: tuple[ServerThread, Path]) -> None:
    server, _ = good
    ctx = build_context(Inputs(endpoint=EndpointOptions(url=server.url, production=True)))
    try:
        assert only(await statuses("EP-017", ctx)) is Status.ERROR
    finally:
        ctx.close()


async def test_auth_probes_on_a_missing_path_report_error_not_fail(good: tuple[ServerThread, Path]) -> None:
    server, _ = good
    opts = EndpointOptions(url=server.url, production=True, protected_paths=("/no/such/route",))
    ctx = build_context(Inputs(endpoint=opts))
    try:
        assert only(await statuses("EP-018", ctx)) is Status.ERROR
    finally:
        ctx.close()


def test_cli_against_the_good_server_exits_0(
    good: tuple[ServerThread, Path], server_key: ed25519.Ed25519PrivateKey, tmp_path: Path
) -> None:
    import json

    from click.testing import CliRunner
    from cryptography.hazmat.primitives import serialization

    from compliance.cli import compliance

    server, cert = good
    key_file = tmp_path / "k2026.pem"
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    args = ["check", "--surfaces", "endpoint", "--url", server.url, "--ca-file", str(cert), "--protected-path",
            "/api/v1/orders", "--signing-key", str(key_file), "--format", "json"]  # fmt: skip
    res = CliRunner().invoke(compliance, args, obj={"settings": None}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert {r["status"] for r in doc["results"]} <= {"PASS", "NOT_APPLICABLE"}  # development: docs may be public
    assert all(r["evidence"]["values"]["trusted_key"] for r in doc["results"] if r["check_id"] == "EP-020")
