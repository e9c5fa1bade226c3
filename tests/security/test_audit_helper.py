"""Handlers record audit entries with one call that takes the request id and client address from the request."""

from __future__ import annotations

import asyncio
import uuid

from litestar import Litestar, Request, post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from core.db import Database
from security.actor import Actor, Role
from security.audit import AuditEvent, record_request, verify_chain
from security.auth import requires
from security.sealer import seal_pending


async def test_record_request_takes_the_request_id_and_client_address(
    app: Litestar, make_staff, token_for, db: Database
) -> None:
    @post("/test/audited", guards=[requires(Role.CASEWORKER)], status_code=204)
    async def audited(
        request: Request, db_session: NamedDependency[AsyncSession], actor: NamedDependency[Actor]
    ) -> None:
        await record_request(
            db_session, request, actor, "wearer.read", "wearer", uuid.UUID(int=7), details={"why": "t"}
        )

    app.register(audited)
    caseworker = await make_staff(Role.CASEWORKER)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        response = await client.post("/test/audited", headers={**token_for(caseworker), "X-Request-ID": "req-12345678"})
    assert response.status_code == 204
    key = db.settings.security.audit_hmac_key.encode()
    await seal_pending(db, key, settle_seconds=0)
    async with db.transaction() as s:
        event = (await s.execute(select(AuditEvent))).scalar_one()
        report = await verify_chain(s, key)
    assert (event.action, event.actor_id, event.request_id) == ("wearer.read", caseworker.id, "req-12345678")
    assert event.client_address == "testclient"
    assert report.intact
    assert (report.entries, report.unsealed) == (1, 0)


async def test_every_app_instance_seals_entries_in_the_background(settings_for, db: Database, make_staff) -> None:
    app = create_app(settings_for(EMON_SECURITY_AUDIT_SEAL_INTERVAL_SECONDS="0.05"))
    officer = await make_staff(Role.FIELD_OFFICER, team="North")
    token, _ = app.state.tokens.issue_access_token(officer)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        response = await client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        for _ in range(100):
            async with db.transaction() as s:
                report = await verify_chain(s, db.settings.security.audit_hmac_key.encode())
            if report.entries and not report.unsealed:
                break
            await asyncio.sleep(0.05)
    assert report.intact
    assert report.entries >= 1
    assert report.unsealed == 0
