"""Access tokens: only a token we signed, with our algorithm and a key of our ring, unexpired, for our issuer and
audience, and not revoked, opens the API. Every forgery answers the same 401."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from litestar import Litestar
from litestar.testing import AsyncTestClient

from api.app import create_app
from core.clock import set_clock, utcnow
from core.db import Database
from security.actor import Actor, Role
from security.revocation import DatabaseRevocations
from security.tokens import generate_key, load_keyring, rotate_key

Client = AsyncTestClient[Litestar]
ME = "/api/v1/auth/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(app: Litestar, sub: uuid.UUID, **overrides: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, object] = {
        "iss": app.state.settings.security.jwt_issuer,
        "aud": app.state.settings.security.jwt_audience,
        "sub": str(sub),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "role": "admin",
    }
    claims.update(overrides)
    return claims


async def _status(client: Client, token: str) -> int:
    return (await client.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code


@pytest.fixture
async def staff(make_staff) -> Actor:
    return await make_staff(Role.ADMIN)


async def test_a_genuine_token_is_accepted(client: Client, token_for, staff: Actor) -> None:
    assert (await client.get(ME, headers=token_for(staff))).status_code == 200


async def test_no_token_and_a_malformed_header_are_401(client: Client) -> None:
    assert (await client.get(ME)).status_code == 401
    assert (await client.get(ME, headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await client.get(ME, headers={"Authorization": "Bearer not.a.jwt"})).status_code == 401


async def test_alg_none_is_refused(client: Client, app: Litestar, staff: Actor) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": app.state.tokens.keyring.current_kid}
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(app, staff.id)).encode())}."
    assert await _status(client, token) == 401


async def test_hs256_signed_with_the_public_key_is_refused(client: Client, app: Litestar, staff: Actor) -> None:
    ring = app.state.tokens.keyring
    public_pem = ring.public_keys[ring.current_kid].public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": ring.current_kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(app, staff.id)).encode())}"
    import hashlib
    import hmac

    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert await _status(client, f"{signing_input}.{_b64(signature)}") == 401


async def test_a_token_from_a_key_outside_the_ring_is_refused(client: Client, app: Litestar, staff: Actor) -> None:
    stranger = generate_key("EdDSA")
    unknown_kid = jwt.encode(_claims(app, staff.id), stranger, algorithm="EdDSA", headers={"kid": "unknown"})
    assert await _status(client, unknown_kid) == 401
    ring = app.state.tokens.keyring
    known_kid = jwt.encode(_claims(app, staff.id), stranger, algorithm="EdDSA", headers={"kid": ring.current_kid})
    assert await _status(client, known_kid) == 401


def _sign(app: Litestar, claims: dict[str, object]) -> str:
    ring = app.state.tokens.keyring
    return jwt.encode(claims, ring.private_keys[ring.current_kid], algorithm="EdDSA", headers={"kid": ring.current_kid})


async def test_expired_and_not_yet_valid_tokens_are_refused(client: Client, app: Litestar, staff: Actor) -> None:
    now = int(datetime.now(UTC).timestamp())
    expired = _sign(app, _claims(app, staff.id, iat=now - 900, nbf=now - 900, exp=now - 60))
    future = _sign(app, _claims(app, staff.id, iat=now, nbf=now + 600, exp=now + 900))
    assert await _status(client, expired) == 401
    assert await _status(client, future) == 401


async def test_the_wrong_issuer_or_audience_is_refused(client: Client, app: Litestar, staff: Actor) -> None:
    assert await _status(client, _sign(app, _claims(app, staff.id, iss="someone-else"))) == 401
    assert await _status(client, _sign(app, _claims(app, staff.id, aud="another-api"))) == 401


async def test_a_token_missing_a_required_claim_is_refused(client: Client, app: Litestar, staff: Actor) -> None:
    claims = _claims(app, staff.id)
    del claims["jti"]
    assert await _status(client, _sign(app, claims)) == 401


async def test_a_revoked_jti_is_refused(client: Client, app: Litestar, staff: Actor, db: Database) -> None:
    token, jti = app.state.tokens.issue_access_token(staff)
    assert await _status(client, token) == 200
    # the app's own store runs on the client's event loop; write the same table from the test's
    await DatabaseRevocations(db).revoke_jti(jti, utcnow() + timedelta(minutes=10))
    assert await _status(client, token) == 401


async def test_a_revocation_by_another_process_applies_within_the_cache_time(
    settings_for, db: Database, make_staff
) -> None:
    """Without Redis each process trusts a "not revoked" answer for EMON_SECURITY_REVOCATION_CACHE_SECONDS; a row
    written by another instance (here: straight into the table) applies once that has passed."""
    import asyncio

    from security.models import TokenRevocation

    app = create_app(settings_for(EMON_SECURITY_REVOCATION_CACHE_SECONDS="0.3"))
    staff = await make_staff(Role.ADMIN)
    token, jti = app.state.tokens.issue_access_token(staff)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        assert await _status(client, token) == 200
        async with db.transaction() as s:
            s.add(TokenRevocation(key=f"jti:{jti}", revoked_at=utcnow(), expires_at=utcnow() + timedelta(minutes=11)))
        await asyncio.sleep(0.4)
        assert await _status(client, token) == 401


async def test_with_no_revocation_cache_another_process_applies_at_once(settings_for, db: Database, make_staff) -> None:
    from security.models import TokenRevocation

    app = create_app(settings_for(EMON_SECURITY_REVOCATION_CACHE_SECONDS="0"))
    staff = await make_staff(Role.ADMIN)
    token, _jti = app.state.tokens.issue_access_token(staff)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        assert await _status(client, token) == 200
        async with db.transaction() as s:
            s.add(TokenRevocation(key=f"sub:{staff.id}", revoked_at=utcnow(), expires_at=utcnow() + timedelta(hours=1)))
        assert await _status(client, token) == 401


async def test_a_revocation_that_rolls_back_revokes_nothing(client: Client, app: Litestar, staff: Actor, db) -> None:
    token, jti = app.state.tokens.issue_access_token(staff)
    with pytest.raises(RuntimeError):
        await _revoke_then_fail(db, jti)
    assert await _status(client, token) == 200


async def _revoke_then_fail(db: Database, jti: str) -> None:
    async with db.transaction() as s:
        await DatabaseRevocations(db).revoke_jti(jti, utcnow() + timedelta(minutes=10), s)
        raise RuntimeError("the work failed")


async def test_a_cached_token_still_expires(client: Client, app: Litestar, staff: Actor) -> None:
    import asyncio
    import time

    second = int(time.time())
    token = _sign(app, _claims(app, staff.id, iat=second - 60, nbf=second - 60, exp=second - 3))  # 5 s leeway
    assert await _status(client, token) == 200  # verified once and remembered
    await asyncio.sleep(second + 2 - time.time() + 0.1)
    assert await _status(client, token) == 401


async def test_tokens_issued_by_the_app_clock_in_the_past_expire(client: Client, app: Litestar, staff: Actor) -> None:
    set_clock(lambda: datetime.now(UTC) - timedelta(hours=1))
    try:
        token, _ = app.state.tokens.issue_access_token(staff)
    finally:
        set_clock(None)
    assert await _status(client, token) == 401


async def test_after_rotation_old_tokens_verify_and_new_ones_use_the_new_key(
    settings_for, db, tmp_path: Path, make_staff
) -> None:
    settings = settings_for(EMON_SECURITY_JWT_KEYS_DIR=str(tmp_path / "keys"))
    old_app = create_app(settings)
    actor = await make_staff(Role.CASEWORKER)
    old_token, _ = old_app.state.tokens.issue_access_token(actor)
    new_kid = rotate_key(tmp_path / "keys", "EdDSA")
    assert (tmp_path / "keys" / "current").read_text().strip() == new_kid
    new_app = create_app(settings)
    assert load_keyring(settings).current_kid == new_kid
    new_token, _ = new_app.state.tokens.issue_access_token(actor)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    async with AsyncTestClient(new_app, base_url="http://testserver.local") as client:
        assert await _status(client, old_token) == 200
        assert await _status(client, new_token) == 200
