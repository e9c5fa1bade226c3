"""Intake: drafts may be incomplete but never wrong; submission lists everything missing at once; a submitted
version never changes."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from fieldwork.postcodes import normalise_postcode
from tests.fieldwork.conftest import Cast, Client, complete_order, create_order, immigration_order, submit


async def test_an_incomplete_order_is_refused_with_every_missing_field_listed(client: Client, cast: Cast) -> None:
    draft = await create_order(
        client,
        cast.caseworker,
        {
            "device_wearer": {
                "first_name": "Jo",
                "date_of_birth": (date.today() - timedelta(days=365 * 15)).isoformat(),
            },
            "conditions": [{"type": "ZONE", "zone_type": "EXCLUSION"}],
        },
    )
    response = await client.post(
        f"/api/v1/orders/{draft['id']}/submit", json={"version": draft["version"]}, headers=cast.caseworker.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {
        "device_wearer.last_name",
        "device_wearer.sex",
        "device_wearer.gender",
        "device_wearer.identifiers",
        "device_wearer.responsible_adult",
        "order_type",
        "start_date",
        "addresses",
        "conditions[0].geometry",
        "notifying_organisation.name",
        "region",
    }
    again = (await client.get(f"/api/v1/orders/{draft['id']}", headers=cast.caseworker.headers)).json()
    assert again["status"] == "DRAFT"
    assert again["jobs"] == []


async def test_an_order_without_conditions_or_with_no_fixed_abode(client: Client, cast: Cast) -> None:
    draft = await create_order(client, cast.caseworker, complete_order(conditions=[]))
    response = await client.post(
        f"/api/v1/orders/{draft['id']}/submit", json={"version": 1}, headers=cast.caseworker.headers
    )
    assert {e["field"] for e in response.json()["errors"]} == {"conditions"}
    body = complete_order(addresses=[{"type": "INSTALLATION", "line1": "Hostel", "postcode": "LS2 7EW"}])
    body["device_wearer"]["no_fixed_abode"] = True
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker, body))
    assert order["status"] == "SUBMITTED"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("GIR 0AA", "GIR 0AA"),
        ("gir0aa", "GIR 0AA"),
        ("M1 1AE", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("  ec1a  1bb ", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
    ],
)
def test_full_uk_postcodes_are_accepted_and_normalised(raw: str, normal: str) -> None:
    assert normalise_postcode(raw) == normal


@pytest.mark.parametrize("raw", ["SW1A", "12345", "SW1A 1AAA", "QA1 1AA", "LS1 1CI", "AA1A 1AA!", "", "XX"])
def test_partial_or_malformed_postcodes_are_refused(raw: str) -> None:
    assert normalise_postcode(raw) is None


async def test_a_bad_postcode_and_bad_values_are_refused_even_in_a_draft(client: Client, cast: Cast) -> None:
    body = complete_order(
        addresses=[
            {"type": "PRIMARY", "line1": "1 High St", "postcode": "LS1"},
            {"type": "SECONDARY", "line1": "2 Low St", "postcode": "NOT A CODE"},
        ],
        conditions=[
            {
                "type": "CHECKIN_SCHEDULE",
                "windows": [
                    {"day": "MONDAY", "start": f"{h:02d}:00:00", "end": f"{h:02d}:30:00"} for h in range(8, 14)
                ],
            },
            {
                "type": "ZONE",
                "zone_type": "EXCLUSION",
                "geometry": {"kind": "POLYGON", "coordinates": [[0, 51], [0.01, 51], [0.01, 51.01]]},
            },
            {
                "type": "ZONE",
                "zone_type": "INCLUSION",
                "geometry": {"kind": "CIRCLE", "centre": [-1.5, 53.8], "radius_m": 500000},
            },
        ],
    )
    body["device_wearer"]["date_of_birth"] = (date.today() + timedelta(days=1)).isoformat()
    response = await client.post("/api/v1/orders", json=body, headers=cast.caseworker.headers)
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields.count("conditions[1].geometry") == 2  # too few points, and not closed
    assert set(fields) == {
        "addresses[0].postcode",
        "addresses[1].postcode",
        "device_wearer.date_of_birth",
        "conditions[0].windows",
        "conditions[1].geometry",
        "conditions[2].geometry",
    }


async def test_a_submitted_version_is_immutable_and_a_variation_makes_a_new_one(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    changed = await client.put(
        f"/api/v1/orders/{order['id']}/draft",
        json={"version": order["version"], "order": complete_order(region="South")},
        headers=cast.caseworker.headers,
    )
    assert changed.status_code == 409
    variation = await client.post(
        f"/api/v1/orders/{order['id']}/variations", json={"version": order["version"]}, headers=cast.caseworker.headers
    )
    assert variation.status_code == 201, variation.text
    varied = variation.json()
    assert varied["current_version"] == 2
    assert [(v["number"], v["status"]) for v in varied["versions"]] == [(1, "SUBMITTED"), (2, "DRAFT")]
    body = complete_order(end_date=(date.today() + timedelta(days=30)).isoformat(), request_type="VARIATION")
    updated = await client.put(
        f"/api/v1/orders/{order['id']}/draft",
        json={"version": varied["version"], "order": body},
        headers=cast.caseworker.headers,
    )
    assert updated.status_code == 200, updated.text
    resubmitted = await submit(client, cast.caseworker, updated.json())
    assert [(v["number"], v["status"]) for v in resubmitted["versions"]] == [(1, "SUPERSEDED"), (2, "SUBMITTED")]
    assert len(resubmitted["jobs"]) == 1  # a plain variation needs no new visit


async def test_a_stale_draft_update_is_a_conflict_with_the_current_state(client: Client, cast: Cast) -> None:
    draft = await create_order(client, cast.caseworker)
    first = await client.put(
        f"/api/v1/orders/{draft['id']}/draft",
        json={"version": draft["version"], "order": complete_order(region="North")},
        headers=cast.caseworker.headers,
    )
    assert first.status_code == 200
    stale = await client.put(
        f"/api/v1/orders/{draft['id']}/draft",
        json={"version": draft["version"], "order": complete_order(region="South")},
        headers=cast.caseworker.headers,
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["version"] == first.json()["version"]


async def test_a_non_fitted_order_issues_a_watch_and_exposes_its_check_in_windows(
    client: Client, cast: Cast, db
) -> None:  # type: ignore[no-untyped-def]
    from fieldwork.service import active_order_for_wearer, checkin_windows
    from tests.fieldwork.conftest import add_device, fitting_body, job_of

    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker, immigration_order()))
    job = await job_of(client, cast.officer, order)
    assert job["required_equipment"] == ["SMARTWATCH"]
    await add_device(client, cast, "W-1", "SMARTWATCH", cast.officer)
    fitted = await client.post(
        f"/api/v1/jobs/{job['id']}/fitting",
        json=fitting_body(job, [("W-1", "LEFT_WRIST")]),
        headers=cast.officer.headers,
    )
    assert fitted.status_code == 201, fitted.text
    async with db.transaction() as session:
        active = await active_order_for_wearer(session, uuid.UUID(order["wearer"]["id"]))
    assert active is not None
    assert [(w.day, w.start.isoformat()) for w in checkin_windows(active)] == [("MONDAY", "09:00:00")]


async def test_non_fitted_devices_are_for_immigration_orders_only(client: Client, cast: Cast) -> None:
    draft = await create_order(client, cast.caseworker, immigration_order(order_type="COMMUNITY"))
    response = await client.post(
        f"/api/v1/orders/{draft['id']}/submit", json={"version": 1}, headers=cast.caseworker.headers
    )
    assert {e["field"] for e in response.json()["errors"]} == {"conditions[0].device"}


async def test_cancelling_a_submitted_order_cancels_its_open_job(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    response = await client.post(
        f"/api/v1/orders/{order['id']}/cancel",
        json={"version": order["version"], "reason": "Bail conditions withdrawn"},
        headers=cast.caseworker.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "CANCELLED"
    assert (await client.get("/api/v1/jobs", headers=cast.officer.headers)).json()["items"] == []
