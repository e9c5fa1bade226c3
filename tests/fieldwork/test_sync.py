"""Offline sync: replays change nothing, stale operations conflict, one bad operation does not sink the batch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from fieldwork.models import SyncOperation, Visit
from tests.fieldwork.conftest import (
    Cast,
    Client,
    add_device,
    create_order,
    curfew_kit,
    fitting_body,
    job_of,
    jpeg_bytes,
    new_id,
    now,
    sha,
    submit,
)


def without_replay_flag(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "replayed"} for r in body["results"]]


async def count(db, model) -> int:  # type: ignore[no-untyped-def]
    async with db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_replaying_a_batch_changes_nothing_and_returns_the_original_results(
    client: Client,
    cast: Cast,
    db,  # type: ignore[no-untyped-def]
) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    kit = await curfew_kit(client, cast)
    photo = jpeg_bytes(7)
    batch = {
        "operations": [
            {
                "kind": "FAILED_VISIT",
                "op_id": new_id(),
                "job_id": job["id"],
                "visit": {"version": job["version"], "outcome": "WEARER_ABSENT", "visited_at": now().isoformat()},
            },
            {
                "kind": "FITTING",
                "op_id": new_id(),
                "job_id": job["id"],
                "fitting": fitting_body({"version": job["version"] + 1}, kit, photos=[sha(photo)]),
            },
        ]
    }
    first = await client.post("/api/v1/sync", json=batch, headers=cast.officer.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [r["outcome"] for r in body["results"]] == ["APPLIED", "APPLIED"]
    # The photo was not uploaded yet: the fitting is accepted and the photo marked pending.
    assert body["results"][1]["result"]["photos"] == [{"sha256": sha(photo), "pending": True}]
    visits_before = await count(db, Visit)

    again = await client.post("/api/v1/sync", json=batch, headers=cast.officer.headers)
    assert again.status_code == 200
    assert without_replay_flag(again.json()) == without_replay_flag(body)
    assert again.json()["replayed"] == 2
    assert await count(db, Visit) == visits_before
    assert await count(db, SyncOperation) == 2

    # Replaying one operation on its own is just as harmless.
    single = await client.post(
        "/api/v1/sync", json={"operations": [batch["operations"][1]]}, headers=cast.officer.headers
    )
    assert single.json()["results"][0]["result"] == body["results"][1]["result"]
    assert await count(db, Visit) == visits_before

    # The photo arrives afterwards; the evidence is complete.
    upload = await client.put(f"/api/v1/photos/{sha(photo)}", content=photo, headers=cast.officer.headers)
    assert upload.status_code == 200


async def test_a_stale_operation_is_a_conflict_with_the_current_state(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    # A colleague records a failed visit online while the officer is offline with the old version.
    online = await client.post(
        f"/api/v1/jobs/{job['id']}/failed-visits",
        json={"version": job["version"], "outcome": "NO_ACCESS", "visited_at": now().isoformat()},
        headers=cast.colleague.headers,
    )
    assert online.status_code == 201
    op = {
        "kind": "FAILED_VISIT",
        "op_id": new_id(),
        "job_id": job["id"],
        "visit": {"version": job["version"], "outcome": "REFUSED", "visited_at": now().isoformat()},
    }
    response = await client.post("/api/v1/sync", json={"operations": [op]}, headers=cast.officer.headers)
    result = response.json()["results"][0]
    assert result["outcome"] == "CONFLICT"
    assert result["status"] == 409
    assert result["problem"]["code"] == "stale-version"
    assert result["current"]["version"] == online.json()["job_version"]
    job_now = await job_of(client, cast.officer, order)
    assert [v["outcome"] for v in job_now["visits"]] == ["NO_ACCESS"]


async def test_one_bad_operation_does_not_sink_the_batch(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    device = await add_device(client, cast, "GPS-9", "GPS_TAG", cast.officer)
    operations = [
        {"kind": "STOCK_MOVE", "op_id": new_id(), "serial": "GPS-9", "move": {"version": 1, "action": "ALLOCATE"}},
        {"kind": "STOCK_MOVE", "op_id": new_id(), "serial": "NO-SUCH", "move": {"version": 1, "action": "MARK_LOST"}},
        {
            "kind": "FAILED_VISIT",
            "op_id": new_id(),
            "job_id": job["id"],
            "visit": {"version": job["version"], "outcome": "COMPLETED", "visited_at": now().isoformat()},
        },
        {
            "kind": "FAILED_VISIT",
            "op_id": new_id(),
            "job_id": job["id"],
            "visit": {"version": job["version"], "outcome": "UNSAFE_TO_PROCEED", "visited_at": now().isoformat()},
        },
    ]
    response = await client.post("/api/v1/sync", json={"operations": operations}, headers=cast.officer.headers)
    body = response.json()
    assert [(r["outcome"], r["status"]) for r in body["results"]] == [
        ("APPLIED", 200),
        ("REJECTED", 404),
        ("REJECTED", 422),
        ("APPLIED", 200),
    ]
    assert (body["applied"], body["rejected"], body["conflicts"]) == (2, 2, 0)
    devices = (await client.get("/api/v1/stock/devices", headers=cast.officer.headers)).json()["items"]
    assert [(d["id"], d["status"], d["officer_id"]) for d in devices] == [
        (device["id"], "ALLOCATED_TO_OFFICER", cast.officer.id)
    ]


async def test_an_operation_id_reused_for_different_content_is_refused(client: Client, cast: Cast) -> None:
    await add_device(client, cast, "GPS-8", "GPS_TAG", cast.officer)
    op_id = new_id()
    take = {"kind": "STOCK_MOVE", "op_id": op_id, "serial": "GPS-8", "move": {"version": 1, "action": "ALLOCATE"}}
    lose = {"kind": "STOCK_MOVE", "op_id": op_id, "serial": "GPS-8", "move": {"version": 2, "action": "MARK_LOST"}}
    await client.post("/api/v1/sync", json={"operations": [take]}, headers=cast.officer.headers)
    response = await client.post("/api/v1/sync", json={"operations": [lose]}, headers=cast.officer.headers)
    assert response.json()["results"][0]["problem"]["code"] == "op-id-reused"


async def test_batches_are_capped_in_operations_and_bytes(client: Client, cast: Cast, settings_for) -> None:  # type: ignore[no-untyped-def]
    op = {"kind": "STOCK_MOVE", "serial": "X", "move": {"version": 1, "action": "MARK_LOST"}}
    too_many = {"operations": [{**op, "op_id": new_id()} for _ in range(501)]}
    response = await client.post("/api/v1/sync", json=too_many, headers=cast.officer.headers)
    assert response.status_code == 413
    garbage = await client.post(
        "/api/v1/sync", content=b'{"operations": [{"kind": "NOPE"}]}', headers=cast.officer.headers
    )
    assert garbage.status_code == 422
    assert garbage.json()["errors"][0]["field"].startswith("operations[0]")


async def test_removal_and_stock_moves_sync_too(client: Client, cast: Cast) -> None:
    order = await submit(client, cast.caseworker, await create_order(client, cast.caseworker))
    job = await job_of(client, cast.officer, order)
    kit = await curfew_kit(client, cast)
    fitted = await client.post(
        f"/api/v1/jobs/{job['id']}/fitting", json=fitting_body(job, kit), headers=cast.officer.headers
    )
    operations = [
        {
            "kind": "REMOVAL",
            "op_id": new_id(),
            "job_id": job["id"],
            "removal": {
                "version": fitted.json()["job_version"],
                "reason": "REVOKED",
                "removed_at": (now() - timedelta(minutes=1)).isoformat(),
                "devices": [{"serial": "RF-1", "condition": "DAMAGED"}, {"serial": "HMU-1", "condition": "GOOD"}],
            },
        },
        {"kind": "STOCK_MOVE", "op_id": new_id(), "serial": "RF-1", "move": {"version": 3, "action": "MARK_FAULTY"}},
    ]
    response = await client.post("/api/v1/sync", json={"operations": operations}, headers=cast.officer.headers)
    assert [r["outcome"] for r in response.json()["results"]] == ["APPLIED", "APPLIED"], response.text
    assert response.json()["results"][0]["result"]["order_status"] == "ENDED"
    devices = (await client.get("/api/v1/stock/devices", headers=cast.officer.headers)).json()["items"]
    assert {d["serial"]: d["status"] for d in devices} == {"HMU-1": "IN_STOCK", "RF-1": "FAULTY"}


async def test_concurrent_copies_of_a_batch_apply_it_once(client: Client, cast: Cast, db) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import pytest

    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time; concurrent batches are a PostgreSQL deployment's concern")
    for n in range(3):
        await add_device(client, cast, f"C-{n}", "GPS_TAG", cast.officer)
    batch = {
        "operations": [
            {"kind": "STOCK_MOVE", "op_id": new_id(), "serial": f"C-{n}", "move": {"version": 1, "action": "ALLOCATE"}}
            for n in range(3)
        ]
    }
    first, second = await asyncio.gather(
        client.post("/api/v1/sync", json=batch, headers=cast.officer.headers),
        client.post("/api/v1/sync", json=batch, headers=cast.officer.headers),
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert without_replay_flag(first.json()) == without_replay_flag(second.json())
    assert {r["outcome"] for r in first.json()["results"] + second.json()["results"]} == {"APPLIED"}
    assert first.json()["replayed"] + second.json()["replayed"] == 3
    assert await count(db, SyncOperation) == 3


async def test_a_body_over_the_sync_byte_cap_is_refused(cast: Cast, settings_for, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    small = settings_for(EMON_FIELDWORK_MAX_SYNC_BODY_BYTES="1000", EMON_FIELDWORK_PHOTO_DIR=str(tmp_path))
    op = {"kind": "STOCK_MOVE", "serial": "X", "move": {"version": 1, "action": "MARK_LOST"}}
    body = {"operations": [{**op, "op_id": new_id()} for _ in range(20)]}
    async with AsyncTestClient(create_app(small), base_url="http://testserver.local") as small_client:
        response = await small_client.post("/api/v1/sync", json=body, headers=cast.officer.headers)
    assert response.status_code == 413
