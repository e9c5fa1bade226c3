"""Small client-side flows over HTTP shared by the scale-out, fault and load tests: orders with visit jobs for an
officer, and sync batches of failed-visit operations (each one write: a visit row and a ledger row)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.fieldwork.conftest import complete_order


@dataclass
class Job:
    id: str
    version: int


async def open_jobs(
    client: httpx.AsyncClient, base: str, caseworker: dict[str, str], officer: dict[str, str], n: int
) -> list[Job]:
    """``n`` submitted curfew orders in region North, each with its fitting job visible to the officer."""
    jobs: list[Job] = []
    for i in range(n):
        body = complete_order()
        body["device_wearer"] = {**body["device_wearer"], "last_name": f"Example{i}", "nomis_id": f"A{1000 + i}BC"}
        created = await client.post(base + "/api/v1/orders", json=body, headers=caseworker)
        assert created.status_code == 201, created.text
        order = created.json()
        submitted = await client.post(
            base + f"/api/v1/orders/{order['id']}/submit", json={"version": order["version"]}, headers=caseworker
        )
        assert submitted.status_code == 200, submitted.text
        job_id = submitted.json()["jobs"][0]
        job = await client.get(base + f"/api/v1/jobs/{job_id}", headers=officer)
        assert job.status_code == 200, job.text
        jobs.append(Job(job_id, job.json()["version"]))
    return jobs


def failed_visit(job: Job) -> dict[str, Any]:
    """One offline operation: the officer called and the wearer was out."""
    return {
        "kind": "FAILED_VISIT",
        "op_id": str(uuid.uuid4()),
        "job_id": job.id,
        "visit": {"version": job.version, "outcome": "WEARER_ABSENT", "visited_at": datetime.now(UTC).isoformat()},
    }
