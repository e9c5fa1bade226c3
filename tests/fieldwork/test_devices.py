"""Device stock: one wearer at a time per device, a state machine, optimistic concurrency, team-scoped stock."""

from __future__ import annotations

from tests.fieldwork.conftest import (
    Cast,
    Client,
    add_device,
    create_order,
    curfew_kit,
    fitting_body,
    job_of,
    submit,
)


async def test_a_second_fitting_of_the_same_serial_is_a_conflict_with_the_reason(client: Client, cast: Cast) -> None:
    kit = await curfew_kit(client, cast)
    first = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, first)
    assert (
        await client.post(
            f"/api/v1/jobs/{job['id']}/fitting", json=fitting_body(job, kit), headers=cast.officer.headers
        )
    ).status_code == 201

    second = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    other_job = await job_of(client, cast.officer, second)
    response = await client.post(
        f"/api/v1/jobs/{other_job['id']}/fitting", json=fitting_body(other_job, kit), headers=cast.officer.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "device-already-fitted"
    assert "already fitted" in response.json()["detail"]
    assert (await job_of(client, cast.officer, second))["status"] == "OPEN"


async def test_fitting_needs_the_equipment_the_conditions_call_for(client: Client, cast: Cast) -> None:
    await add_device(client, cast, "W-2", "SMARTWATCH", cast.officer)
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    response = await client.post(
        f"/api/v1/jobs/{job['id']}/fitting",
        json=fitting_body(job, [("W-2", "LEFT_WRIST"), ("NOPE", "LEFT_LEG")]),
        headers=cast.officer.headers,
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["devices[1].serial"]
    response = await client.post(
        f"/api/v1/jobs/{job['id']}/fitting",
        json=fitting_body(job, [("W-2", "LEFT_WRIST")]),
        headers=cast.officer.headers,
    )
    assert response.status_code == 422
    assert "RF_TAG or GPS_TAG" in response.json()["errors"][0]["message"]


async def test_stock_follows_the_state_machine_and_versions(client: Client, cast: Cast) -> None:
    device = await add_device(client, cast, "AL-1", "ALCOHOL_TAG", cast.officer)
    url = f"/api/v1/stock/devices/{device['id']}/moves"
    taken = await client.post(url, json={"version": 1, "action": "ALLOCATE"}, headers=cast.officer.headers)
    assert taken.status_code == 200
    assert (taken.json()["status"], taken.json()["officer_id"]) == ("ALLOCATED_TO_OFFICER", cast.officer.id)
    stale = await client.post(url, json={"version": 1, "action": "MARK_FAULTY"}, headers=cast.officer.headers)
    assert stale.status_code == 409
    assert stale.json()["current"]["status"] == "ALLOCATED_TO_OFFICER"
    held = await client.post(url, json={"version": 2, "action": "MARK_LOST"}, headers=cast.colleague.headers)
    assert held.status_code == 409
    faulty = await client.post(url, json={"version": 2, "action": "MARK_FAULTY"}, headers=cast.officer.headers)
    assert faulty.json()["status"] == "FAULTY"
    not_allowed = await client.post(url, json={"version": 3, "action": "ALLOCATE"}, headers=cast.officer.headers)
    assert not_allowed.status_code == 409
    assert not_allowed.json()["code"] == "device-transition"
    assert (
        await client.post(url, json={"version": 3, "action": "RETIRE"}, headers=cast.officer.headers)
    ).status_code == 403
    retired = await client.post(url, json={"version": 3, "action": "RETIRE"}, headers=cast.supervisor.headers)
    assert retired.json()["status"] == "RETIRED"
    assert (
        await client.post(url, json={"version": 1, "action": "ALLOCATE"}, headers=cast.stranger.headers)
    ).status_code == 404


async def test_serials_are_unique(client: Client, cast: Cast) -> None:
    await add_device(client, cast, "RF-7", "RF_TAG", cast.officer)
    response = await client.post(
        "/api/v1/stock/devices",
        json={"serial": "RF-7", "device_type": "RF_TAG", "model": "X"},
        headers=cast.admin.headers,
    )
    assert response.status_code == 409


async def test_the_database_itself_refuses_a_second_open_assignment_of_a_device(client: Client, cast: Cast, db) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from fieldwork.models import DeviceAssignment

    kit = await curfew_kit(client, cast)
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    await client.post(f"/api/v1/jobs/{job['id']}/fitting", json=fitting_body(job, kit), headers=cast.officer.headers)
    async with db.transaction() as session:
        open_one = (await session.execute(select(DeviceAssignment).limit(1))).scalar_one()
        second = DeviceAssignment(
            device_id=open_one.device_id,
            wearer_id=open_one.wearer_id,
            order_id=open_one.order_id,
            fitting_id=open_one.fitting_id,
            placement=open_one.placement,
            started_at=open_one.started_at,
        )
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            session.add(second)
