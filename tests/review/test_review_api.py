"""The review API: the queue, claims, decisions and revisions, scoping, images, compliance and exports."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from core.db import Database
from security.actor import Role
from security.audit import AuditEvent

BASE = "/api/v1/review"


async def actions(db: Database) -> list[str]:
    async with db.transaction() as s:
        return list((await s.execute(select(AuditEvent.action).order_by(AuditEvent.id))).scalars())


async def test_the_queue_lists_my_open_items_oldest_first_and_not_another_caseload(
    client: Any, token_for: Any, scenario: Any
) -> None:
    response = await client.get(f"{BASE}/queue", headers=token_for(scenario.caseworker))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["id"] for i in body["items"]] == [str(scenario.referred), str(scenario.missed)]
    assert body["total"] == 2
    assert {i["kind"] for i in body["items"]} == {"REFERRED", "MISSED"}
    assert "image" not in response.text.lower()


async def test_the_queue_filters_by_reason_kind_wearer_and_pages(client: Any, token_for: Any, scenario: Any) -> None:
    headers = token_for(scenario.caseworker)
    by_reason = (await client.get(f"{BASE}/queue", params={"reason": "LOW_MATCH"}, headers=headers)).json()
    assert [i["id"] for i in by_reason["items"]] == [str(scenario.referred)]
    by_kind = (await client.get(f"{BASE}/queue", params={"kind": "MISSED"}, headers=headers)).json()
    assert [i["id"] for i in by_kind["items"]] == [str(scenario.missed)]
    page = (await client.get(f"{BASE}/queue", params={"limit": 1, "offset": 1}, headers=headers)).json()
    assert [i["id"] for i in page["items"]] == [str(scenario.missed)]
    assert page["total"] == 2
    other = await client.get(f"{BASE}/queue", params={"wearer_id": str(scenario.other_wearer_id)}, headers=headers)
    assert other.json()["items"] == []
    bad = await client.get(f"{BASE}/queue", params={"reason": "%"}, headers=headers)
    assert bad.status_code in (400, 422)


async def test_the_page_size_is_capped(client: Any, token_for: Any, scenario: Any) -> None:
    body = (await client.get(f"{BASE}/queue", params={"limit": 1000}, headers=token_for(scenario.caseworker))).json()
    assert body["limit"] == client.app.state.settings.http.max_page_size


async def test_a_decision_with_a_reason_closes_the_item_and_is_audited(
    client: Any, token_for: Any, scenario: Any, db: Database
) -> None:
    headers = token_for(scenario.caseworker)
    url = f"{BASE}/items/{scenario.referred}/decision"
    response = await client.post(url, json={"outcome": "ACCEPTED", "reason": "It is him; poor light."}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["revision"] == 1
    queue = (await client.get(f"{BASE}/queue", headers=headers)).json()
    assert str(scenario.referred) not in [i["id"] for i in queue["items"]]
    assert "review.decision" in await actions(db)
    again = await client.post(url, json={"outcome": "EXCUSED", "reason": "second go"}, headers=headers)
    assert again.status_code == 409


async def test_a_decision_needs_a_reason_of_bounded_length(client: Any, token_for: Any, scenario: Any) -> None:
    headers = token_for(scenario.caseworker)
    url = f"{BASE}/items/{scenario.missed}/decision"
    for reason in ("", "   ", "x" * 1001):
        response = await client.post(url, json={"outcome": "EXCUSED", "reason": reason}, headers=headers)
        assert response.status_code in (400, 422), reason
        assert response.headers["content-type"].startswith("application/problem+json")
    wrong = await client.post(url, json={"outcome": "MAYBE", "reason": "hm"}, headers=headers)
    assert wrong.status_code in (400, 422)


async def test_only_a_supervisor_revises_and_the_history_keeps_every_decision(
    client: Any, token_for: Any, scenario: Any, db: Database
) -> None:
    cw, sup = token_for(scenario.caseworker), token_for(scenario.supervisor)
    item = f"{BASE}/items/{scenario.referred}"
    await client.post(f"{item}/decision", json={"outcome": "CONFIRMED_NON_COMPLIANT", "reason": "not him"}, headers=cw)
    refused = await client.post(f"{item}/revision", json={"outcome": "ACCEPTED", "reason": "r"}, headers=cw)
    assert refused.status_code == 403
    no_reason = await client.post(f"{item}/revision", json={"outcome": "ACCEPTED", "reason": ""}, headers=sup)
    assert no_reason.status_code in (400, 422)
    revised = await client.post(
        f"{item}/revision", json={"outcome": "ACCEPTED", "reason": "Checked with the officer: it is him"}, headers=sup
    )
    assert revised.status_code == 201, revised.text
    history = (await client.get(f"{item}/history", headers=cw)).json()
    assert [(h["revision"], h["outcome"]) for h in history] == [(1, "CONFIRMED_NON_COMPLIANT"), (2, "ACCEPTED")]
    assert history[1]["supersedes_id"] == history[0]["id"]
    assert history[1]["decided_by_role"] == "supervisor"
    assert "review.decision.revised" in await actions(db)


async def test_a_second_claim_is_refused_naming_who_holds_it(client: Any, token_for: Any, scenario: Any) -> None:
    first = await client.post(f"{BASE}/items/{scenario.referred}/claim", headers=token_for(scenario.caseworker))
    assert first.status_code == 200, first.text
    second = await client.post(f"{BASE}/items/{scenario.referred}/claim", headers=token_for(scenario.supervisor))
    assert second.status_code == 409
    problem = second.json()
    assert second.headers["content-type"].startswith("application/problem+json")
    assert problem["held_by"] == "Test caseworker"
    assert problem["code"] == "CLAIMED"
    blocked = await client.post(
        f"{BASE}/items/{scenario.referred}/decision",
        json={"outcome": "ACCEPTED", "reason": "mine now"},
        headers=token_for(scenario.supervisor),
    )
    assert blocked.status_code == 409
    mine = await client.post(
        f"{BASE}/items/{scenario.referred}/decision",
        json={"outcome": "ACCEPTED", "reason": "fine", "version": first.json()["version"]},
        headers=token_for(scenario.caseworker),
    )
    assert mine.status_code == 201, mine.text


async def test_a_stale_version_is_refused(client: Any, token_for: Any, scenario: Any) -> None:
    headers = token_for(scenario.caseworker)
    claimed = (await client.post(f"{BASE}/items/{scenario.missed}/claim", headers=headers)).json()
    stale = await client.post(
        f"{BASE}/items/{scenario.missed}/decision",
        json={"outcome": "EXCUSED", "reason": "hospital", "version": claimed["version"] - 1},
        headers=headers,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "STALE_VERSION"


async def test_another_caseloads_items_and_wearers_answer_404(client: Any, token_for: Any, scenario: Any) -> None:
    headers = token_for(scenario.caseworker)
    for method, path in (
        ("get", f"{BASE}/items/{scenario.foreign}"),
        ("post", f"{BASE}/items/{scenario.foreign}/claim"),
        ("get", f"{BASE}/items/{scenario.foreign}/history"),
        ("get", f"{BASE}/wearers/{scenario.other_wearer_id}/compliance"),
        ("get", f"{BASE}/wearers/{scenario.other_wearer_id}/export.csv"),
        ("post", f"{BASE}/wearers/{scenario.other_wearer_id}/prompts"),
        ("get", f"{BASE}/checkins/{scenario.foreign_checkin}/images/0"),
    ):
        response = await getattr(client, method)(path, headers=headers)
        assert response.status_code == 404, (path, response.status_code)
    decide = await client.post(
        f"{BASE}/items/{scenario.foreign}/decision", json={"outcome": "ACCEPTED", "reason": "x"}, headers=headers
    )
    assert decide.status_code == 404


async def test_other_roles_may_not_use_the_review_api(client: Any, token_for: Any, make_staff: Any) -> None:
    for role in (Role.FIELD_OFFICER, Role.ADMIN):
        actor = await make_staff(role)
        assert (await client.get(f"{BASE}/queue", headers=token_for(actor))).status_code == 403
    assert (await client.get(f"{BASE}/queue")).status_code == 401


async def test_images_are_for_the_wearers_caseworker_only_uncached_and_audited(
    client: Any, token_for: Any, scenario: Any, db: Database
) -> None:
    url = f"{BASE}/checkins/{scenario.referred_checkin}/images/0"
    response = await client.get(url, headers=token_for(scenario.caseworker))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"\x89PNG")
    assert "review.checkin.image.viewed" in await actions(db)
    assert (await client.get(url, headers=token_for(scenario.other_caseworker))).status_code == 404
    assert (await client.get(url, headers=token_for(scenario.supervisor))).status_code == 403
    item = (await client.get(f"{BASE}/items/{scenario.referred}", headers=token_for(scenario.caseworker))).json()
    assert item["checkin"]["images"] == 1
    assert item["checkin"]["distance"] == 0.55


async def test_compliance_counts_rates_and_timeline(client: Any, token_for: Any, scenario: Any) -> None:
    headers = token_for(scenario.caseworker)
    await client.post(
        f"{BASE}/items/{scenario.referred}/decision", json={"outcome": "ACCEPTED", "reason": "ok"}, headers=headers
    )
    body = (await client.get(f"{BASE}/wearers/{scenario.wearer_id}/compliance", headers=headers)).json()
    week = body["windows"][0]
    assert week["days"] == 7
    assert (week["issued"], week["verified"], week["referred"], week["missed"]) == (3, 1, 1, 1)
    assert (week["decided"], week["accepted"], week["undecided"]) == (1, 1, 1)
    assert week["compliance_rate"] == round(2 / 3, 3)
    assert len(body["timeline"]) == 30
    assert sum(d["missed"] for d in body["timeline"]) == 1


async def test_the_caseload_puts_the_most_at_risk_first(
    client: Any, token_for: Any, scenario: Any, db: Database
) -> None:
    from datetime import UTC, datetime, timedelta

    from review.demo import add_prompt, add_wearer

    async with db.transaction() as s:
        wearer, order, enrolment = await add_wearer(
            s, caseworker_id=scenario.caseworker.id, first_name="Cy", last_name="Risky"
        )
        for hours in (3, 30, 50):
            await add_prompt(
                s,
                db.settings,
                wearer,
                order,
                enrolment,
                outcome="MISSED",
                at=datetime.now(UTC) - timedelta(hours=hours),
            )
    body = (await client.get(f"{BASE}/caseload", headers=token_for(scenario.caseworker))).json()
    names = [w["wearer_name"] for w in body["wearers"]]
    assert names[0] == "Cy Risky"
    assert len(names) == 2
    assert body["wearers"][0]["missed_7d"] == 3


async def test_a_caseworker_sends_a_prompt_to_the_watch(client: Any, token_for: Any, scenario: Any) -> None:
    response = await client.post(f"{BASE}/wearers/{scenario.wearer_id}/prompts", headers=token_for(scenario.caseworker))
    assert response.status_code == 201, response.text
    assert response.json()["wearer_id"] == str(scenario.wearer_id)


async def test_the_wearer_export_is_csv_with_formulas_neutralised_and_audited(
    client: Any, token_for: Any, scenario: Any, db: Database
) -> None:
    headers = token_for(scenario.caseworker)
    await client.post(
        f"{BASE}/items/{scenario.missed}/decision",
        json={"outcome": "EXCUSED", "reason": "=cmd|' /C calc'!A0 hospital visit"},
        headers=headers,
    )
    response = await client.get(f"{BASE}/wearers/{scenario.wearer_id}/export.csv", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][0] == "prompt_id"
    assert len(rows) == 4
    reasons = [r[10] for r in rows[1:] if r[10]]
    assert reasons == ["'=cmd|' /C calc'!A0 hospital visit"]
    assert "review.export.wearer" in await actions(db)


async def test_the_caseload_export_neutralises_names(client: Any, token_for: Any, scenario: Any, db: Database) -> None:
    response = await client.get(f"{BASE}/caseload/export.csv", headers=token_for(scenario.caseworker))
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["wearer_id", "wearer", "missed_7d", "referred_7d", "open_items", "compliance_rate_30d"]
    assert rows[1][1] == "Ada =HYPERLINK(1)"  # not at the start of the cell: harmless
    assert "review.export.caseload" in await actions(db)


async def test_a_decision_on_an_untouched_item_carries_the_version_the_queue_showed(
    client: Any, token_for: Any, scenario: Any
) -> None:
    headers = token_for(scenario.caseworker)
    listed = (await client.get(f"{BASE}/queue", headers=headers)).json()["items"][0]
    assert listed["version"] == 0
    response = await client.post(
        f"{BASE}/items/{listed['id']}/decision",
        json={"outcome": "ACCEPTED", "reason": "fine", "version": listed["version"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text


async def test_a_claim_lapses_after_its_expiry(client: Any, token_for: Any, scenario: Any, db: Database) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from review.models import ReviewItem

    first = await client.post(f"{BASE}/items/{scenario.referred}/claim", headers=token_for(scenario.caseworker))
    assert first.status_code == 200
    assert datetime.fromisoformat(first.json()["claimed_until"]) > datetime.now(UTC) + timedelta(minutes=14)
    async with db.transaction() as s:  # let the claim's time pass (tokens check the real clock)
        await s.execute(
            update(ReviewItem)
            .where(ReviewItem.alert_id == scenario.referred)
            .values(claimed_until=datetime.now(UTC) - timedelta(seconds=1), version=ReviewItem.version + 1)
        )
    listed = (await client.get(f"{BASE}/queue", headers=token_for(scenario.supervisor))).json()["items"]
    item = next(i for i in listed if i["id"] == str(scenario.referred))
    assert item["claimed_by"] is None
    second = await client.post(
        f"{BASE}/items/{scenario.referred}/claim",
        json={"version": item["version"]},
        headers=token_for(scenario.supervisor),
    )
    assert second.status_code == 200, second.text
    assert second.json()["claimed_by"] == "Test supervisor"


async def test_a_revision_needs_a_decision_first(client: Any, token_for: Any, scenario: Any) -> None:
    response = await client.post(
        f"{BASE}/items/{scenario.missed}/revision",
        json={"outcome": "EXCUSED", "reason": "hospital"},
        headers=token_for(scenario.supervisor),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "NOT_DECIDED"


async def test_two_simultaneous_claims_leave_exactly_one_holder(client: Any, token_for: Any, scenario: Any) -> None:
    import asyncio

    url = f"{BASE}/items/{scenario.referred}/claim"
    responses = await asyncio.gather(
        client.post(url, headers=token_for(scenario.caseworker)),
        client.post(url, headers=token_for(scenario.supervisor)),
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()["claimed_by"]
    item = (await client.get(f"{BASE}/items/{scenario.referred}", headers=token_for(scenario.supervisor))).json()
    assert item["claimed_by"] == winner
