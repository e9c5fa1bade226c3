"""Protected characteristics: self-declared and optional; only supervisors and admins read them, every read audited;
never in ordinary wearer responses."""

from __future__ import annotations

from sqlalchemy import select

from security.audit import AuditEvent
from tests.fieldwork.conftest import Cast, Client, create_order, job_of, submit

DECLARATION = {"ethnicity": "MIXED_WHITE_AND_ASIAN", "nationality": "British", "religion": "PREFER_NOT_TO_SAY"}


async def test_protected_characteristics_are_hidden_from_officers_and_caseworkers(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    wearer_id = order["wearer"]["id"]
    url = f"/api/v1/wearers/{wearer_id}/protected-characteristics"
    written = await client.put(url, json=DECLARATION, headers=cast.caseworker.headers)
    assert written.status_code == 200
    assert written.json() == {"version": 1}  # write-only: the values are not echoed

    assert (await client.get(url, headers=cast.caseworker.headers)).status_code == 403
    assert (await client.get(url, headers=cast.officer.headers)).status_code == 403
    for text in (
        (await client.get(f"/api/v1/wearers/{wearer_id}", headers=cast.caseworker.headers)).text,
        (await client.get(f"/api/v1/orders/{order['id']}", headers=cast.caseworker.headers)).text,
        (await client.get(f"/api/v1/jobs/{order['jobs'][0]}", headers=cast.officer.headers)).text,
    ):
        assert "MIXED_WHITE_AND_ASIAN" not in text
        assert "ethnicity" not in text
    assert (await job_of(client, cast.officer, order))["wearer"]["id"] == wearer_id


async def test_supervisors_read_them_and_every_read_is_audited(client: Client, cast: Cast, db) -> None:  # type: ignore[no-untyped-def]
    order = await create_order(client, cast.caseworker)
    url = f"/api/v1/wearers/{order['wearer']['id']}/protected-characteristics"
    nothing = await client.get(url, headers=cast.supervisor.headers)
    assert (nothing.status_code, nothing.json()["declared"]) == (200, False)
    await client.put(url, json=DECLARATION, headers=cast.caseworker.headers)
    response = await client.get(url, headers=cast.supervisor.headers)
    assert response.status_code == 200
    assert response.json()["ethnicity"] == "MIXED_WHITE_AND_ASIAN"
    assert response.json()["ethnic_group"] == "MIXED"
    assert (await client.get(url, headers=cast.admin.headers)).status_code == 200
    async with db.transaction() as session:
        reads = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "wearer.protected.read")))
            .scalars()
            .all()
        )
    assert [(r.actor_role, r.outcome) for r in reads] == [
        ("supervisor", "none-declared"),
        ("supervisor", "success"),
        ("admin", "success"),
    ]
    assert all("MIXED" not in r.details for r in reads)


async def test_a_changed_declaration_needs_the_version_it_was_based_on(client: Client, cast: Cast) -> None:
    order = await create_order(client, cast.caseworker)
    url = f"/api/v1/wearers/{order['wearer']['id']}/protected-characteristics"
    await client.put(url, json=DECLARATION, headers=cast.caseworker.headers)
    stale = await client.put(url, json={"ethnicity": "WHITE_IRISH"}, headers=cast.caseworker.headers)
    assert stale.status_code == 409
    fresh = await client.put(url, json={"version": 1, "ethnicity": "WHITE_IRISH"}, headers=cast.caseworker.headers)
    assert fresh.json() == {"version": 2}


async def test_a_caseworker_cannot_declare_for_a_wearer_outside_their_caseload(client: Client, cast: Cast) -> None:
    order = await create_order(client, cast.caseworker)
    url = f"/api/v1/wearers/{order['wearer']['id']}/protected-characteristics"
    assert (await client.put(url, json=DECLARATION, headers=cast.other_caseworker.headers)).status_code == 404
