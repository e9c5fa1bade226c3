"""The whole journey through the API: intake, submission, the officer's job, fitting with a photo, removal."""

from __future__ import annotations

from datetime import timedelta

from tests.fieldwork.conftest import (
    Cast,
    Client,
    create_order,
    curfew_kit,
    fitting_body,
    job_of,
    jpeg_bytes,
    now,
    sha,
    submit,
)


async def test_an_order_flows_from_intake_to_fitting_to_removal_without_rekeying(client: Client, cast: Cast) -> None:
    # Intake: a draft, then submission; the fitting job is created and allocated to the region's team.
    draft = await create_order(client, cast.caseworker)
    assert draft["status"] == "DRAFT"
    assert draft["content"]["addresses"][0]["postcode"] == "LS1 1BA"  # normalised
    order = await submit(client, cast.caseworker, draft)
    assert order["status"] == "SUBMITTED"
    assert len(order["jobs"]) == 1

    # The job appears in the officer's list (their team's), with what they need to know before going.
    listed = (await client.get("/api/v1/jobs", headers=cast.officer.headers)).json()
    assert [j["id"] for j in listed["items"]] == order["jobs"]
    assert listed["items"][0]["postcode"] == "LS1 1BA"
    job = await job_of(client, cast.officer, order)
    assert job["risk"]["dangerous_dogs"] is True
    assert job["address"]["line1"] == "1 High Street"
    assert job["required_equipment"] == ["RF_TAG or GPS_TAG", "HMU"]
    assert job["conditions"][0]["type"] == "CURFEW"
    assert job["wearer"]["first_name"] == "Sam"

    # The supervisor allocates it to the officer.
    allocated = await client.post(
        f"/api/v1/jobs/{job['id']}/allocation",
        json={"version": job["version"], "officer_id": cast.officer.id},
        headers=cast.supervisor.headers,
    )
    assert allocated.status_code == 200, allocated.text
    assert allocated.json()["officer_id"] == cast.officer.id

    # Fitting, with photo evidence uploaded first.
    photo = jpeg_bytes()
    upload = await client.put(
        f"/api/v1/photos/{sha(photo)}", content=photo, headers={**cast.officer.headers, "Content-Type": "image/jpeg"}
    )
    assert upload.status_code == 200, upload.text
    kit = await curfew_kit(client, cast)
    job = await job_of(client, cast.officer, order)
    fitted = await client.post(
        f"/api/v1/jobs/{job['id']}/fitting",
        json=fitting_body(job, kit, photos=[sha(photo)]),
        headers=cast.officer.headers,
    )
    assert fitted.status_code == 201, fitted.text
    assert fitted.json()["order_status"] == "ACTIVE"
    assert fitted.json()["photos"] == [{"sha256": sha(photo), "pending": False}]

    order_now = (await client.get(f"/api/v1/orders/{order['id']}", headers=cast.caseworker.headers)).json()
    assert order_now["status"] == "ACTIVE"
    devices = (await client.get("/api/v1/stock/devices", headers=cast.officer.headers)).json()["items"]
    assert {d["serial"]: d["status"] for d in devices} == {"HMU-1": "FITTED", "RF-1": "FITTED"}
    job = await job_of(client, cast.officer, order)
    assert job["status"] == "COMPLETED"
    assert job["fitted_devices"] == ["HMU-1", "RF-1"]

    # Removal at the end of the order: devices back in stock, the order ENDED with its outcome.
    removed = await client.post(
        f"/api/v1/jobs/{job['id']}/removal",
        json={
            "version": job["version"],
            "reason": "ORDER_ENDED",
            "removed_at": (now() - timedelta(minutes=1)).isoformat(),
            "devices": [{"serial": "RF-1", "condition": "GOOD"}, {"serial": "HMU-1", "condition": "GOOD"}],
            "outcome": "Order completed",
        },
        headers=cast.officer.headers,
    )
    assert removed.status_code == 201, removed.text
    assert removed.json()["order_status"] == "ENDED"
    devices = (await client.get("/api/v1/stock/devices", headers=cast.officer.headers)).json()["items"]
    assert {d["status"] for d in devices} == {"IN_STOCK"}
    order_now = (await client.get(f"/api/v1/orders/{order['id']}", headers=cast.caseworker.headers)).json()
    assert order_now["status"] == "ENDED"
    assert order_now["end_outcome"] == "Order completed"

    # The supervisor can see the evidence; it was stored encrypted, so the bytes on disk differ.
    back = await client.get(f"/api/v1/photos/{sha(photo)}", headers=cast.supervisor.headers)
    assert back.status_code == 200
    assert back.content == photo


async def test_a_failed_visit_keeps_the_job_open_for_rebooking(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    response = await client.post(
        f"/api/v1/jobs/{job['id']}/failed-visits",
        json={"version": job["version"], "outcome": "NO_ACCESS", "visited_at": now().isoformat(), "notes": "No answer"},
        headers=cast.officer.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["job_status"] == "OPEN"
    job = await job_of(client, cast.officer, order)
    assert [v["outcome"] for v in job["visits"]] == ["NO_ACCESS"]
    listed = (await client.get("/api/v1/jobs", headers=cast.officer.headers)).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]


async def test_the_job_list_is_ordered_by_appointment_and_paginated(client: Client, cast: Cast) -> None:
    start = now().replace(microsecond=0) + timedelta(days=1)
    for hours in (5, 1, 3):
        body = {
            "start": (start + timedelta(hours=hours)).isoformat(),
            "end": (start + timedelta(hours=hours + 2)).isoformat(),
        }
        from tests.fieldwork.conftest import complete_order

        await submit(
            client, cast.caseworker, await create_order(client, cast.caseworker, complete_order(appointment=body))
        )
    first = (await client.get("/api/v1/jobs?limit=2", headers=cast.officer.headers)).json()
    second = (await client.get("/api/v1/jobs?limit=2&offset=2", headers=cast.officer.headers)).json()
    assert first["total"] == 3
    starts = [j["appointment_start"] for j in first["items"] + second["items"]]
    assert starts == sorted(starts)
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1


async def test_an_open_job_can_be_rebooked_after_a_failed_visit(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    failed = await client.post(
        f"/api/v1/jobs/{job['id']}/failed-visits",
        json={"version": job["version"], "outcome": "WEARER_ABSENT", "visited_at": now().isoformat()},
        headers=cast.officer.headers,
    )
    start = now().replace(microsecond=0) + timedelta(days=2)
    rebooked = await client.post(
        f"/api/v1/jobs/{job['id']}/appointment",
        json={
            "version": failed.json()["job_version"],
            "appointment_start": start.isoformat(),
            "appointment_end": (start + timedelta(hours=2)).isoformat(),
        },
        headers=cast.officer.headers,
    )
    assert rebooked.status_code == 200, rebooked.text
    assert rebooked.json()["appointment_start"].startswith(start.isoformat()[:19])
    assert rebooked.json()["status"] == "OPEN"


async def test_a_faulty_tag_is_replaced_through_a_refit_job_nobody_keys(client: Client, cast: Cast) -> None:
    from tests.fieldwork.conftest import add_device

    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    kit = await curfew_kit(client, cast)
    fitted = await client.post(
        f"/api/v1/jobs/{job['id']}/fitting", json=fitting_body(job, kit), headers=cast.officer.headers
    )
    removed = await client.post(
        f"/api/v1/jobs/{job['id']}/removal",
        json={
            "version": fitted.json()["job_version"],
            "reason": "FAULT",
            "removed_at": now().isoformat(),
            "devices": [{"serial": "RF-1", "condition": "FAULTY"}],
        },
        headers=cast.officer.headers,
    )
    assert removed.status_code == 201, removed.text
    assert removed.json()["order_status"] == "ACTIVE"
    jobs = (await client.get("/api/v1/jobs", headers=cast.officer.headers)).json()["items"]
    assert [(j["kind"], j["order_id"]) for j in jobs] == [("FITTING", order["id"])]
    refit = await client.get(f"/api/v1/jobs/{jobs[0]['id']}", headers=cast.officer.headers)
    assert refit.json()["fitted_devices"] == ["HMU-1"]
    await add_device(client, cast, "RF-2", "RF_TAG", cast.officer)
    response = await client.post(
        f"/api/v1/jobs/{jobs[0]['id']}/fitting",
        json=fitting_body(refit.json(), [("RF-2", "RIGHT_LEG")]),
        headers=cast.officer.headers,
    )
    assert response.status_code == 201, response.text
    devices = (await client.get("/api/v1/stock/devices", headers=cast.officer.headers)).json()["items"]
    assert {d["serial"]: d["status"] for d in devices} == {"HMU-1": "FITTED", "RF-1": "FAULTY", "RF-2": "FITTED"}
