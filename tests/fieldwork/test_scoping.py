"""Who sees what: an officer sees their own and their team's jobs; a caseworker their caseload; another's record
answers 404, never 403."""

from __future__ import annotations

from tests.fieldwork.conftest import Cast, Client, create_order, curfew_kit, fitting_body, job_of, now, submit


async def test_an_officer_of_another_team_can_neither_see_nor_act_on_the_job(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    kit = await curfew_kit(client, cast)
    stranger = cast.stranger.headers

    assert (await client.get("/api/v1/jobs", headers=stranger)).json()["items"] == []
    assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=stranger)).status_code == 404
    fitting = await client.post(f"/api/v1/jobs/{job['id']}/fitting", json=fitting_body(job, kit), headers=stranger)
    assert fitting.status_code == 404
    failed = await client.post(
        f"/api/v1/jobs/{job['id']}/failed-visits",
        json={"version": job["version"], "outcome": "NO_ACCESS", "visited_at": now().isoformat()},
        headers=stranger,
    )
    assert failed.status_code == 404
    assert (await client.get("/api/v1/stock/devices", headers=stranger)).json()["items"] == []
    # ...while a colleague in the same team sees it.
    assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=cast.colleague.headers)).status_code == 200


async def test_a_job_allocated_to_an_officer_of_another_team_moves_to_their_list(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    response = await client.post(
        f"/api/v1/jobs/{job['id']}/allocation",
        json={"version": job["version"], "officer_id": cast.stranger.id},
        headers=cast.supervisor.headers,
    )
    assert response.status_code == 200
    assert [j["id"] for j in (await client.get("/api/v1/jobs", headers=cast.stranger.headers)).json()["items"]] == [
        job["id"]
    ]
    assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=cast.officer.headers)).status_code == 404


async def test_a_caseworker_sees_only_their_own_caseload(client: Client, cast: Cast) -> None:
    order = await create_order(client, cast.caseworker)
    wearer_id = order["wearer"]["id"]
    assert order["wearer"]["caseworker_id"] == cast.caseworker.id
    other = cast.other_caseworker.headers
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=other)).status_code == 404
    assert (await client.get(f"/api/v1/wearers/{wearer_id}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/orders", headers=other)).json()["total"] == 0
    assert (await client.get("/api/v1/wearers", headers=other)).json()["total"] == 0
    submit_other = await client.post(f"/api/v1/orders/{order['id']}/submit", json={"version": 1}, headers=other)
    assert submit_other.status_code == 404
    mine = (await client.get("/api/v1/wearers", headers=cast.caseworker.headers)).json()
    assert [w["id"] for w in mine["items"]] == [wearer_id]
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=cast.supervisor.headers)).status_code == 200


async def test_roles_outside_a_route_are_refused_by_its_guard(client: Client, cast: Cast) -> None:
    officer = cast.officer.headers
    assert (await client.post("/api/v1/orders", json={}, headers=officer)).status_code == 403
    assert (await client.get("/api/v1/orders", headers=officer)).status_code == 403
    assert (await client.get("/api/v1/jobs", headers=cast.caseworker.headers)).status_code == 403
    assert (
        await client.post("/api/v1/sync", json={"operations": []}, headers=cast.supervisor.headers)
    ).status_code == 403
    assert (await client.get("/api/v1/jobs")).status_code == 401


async def test_every_read_of_a_job_is_audited(client: Client, cast: Cast, db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from security.audit import AuditEvent

    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    async with db.transaction() as session:
        reads = (await session.execute(select(AuditEvent).where(AuditEvent.action == "job.read"))).scalars().all()
    assert [(r.actor_id, r.resource_id) for r in reads] == [(cast.officer.actor.id, job["id"])]
