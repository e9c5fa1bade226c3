"""Evidence reports: aggregate only, small groups suppressed, the read of protected characteristics audited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from core.db import Database
from review.demo import add_prompt, add_wearer
from security.actor import Role
from security.audit import AuditEvent

BASE = "/api/v1/review/reports"


async def _population(db: Database, caseworker_id: Any) -> None:
    """12 wearers declaring BLACK_AFRICAN, 12 ASIAN_INDIAN, 3 WHITE_BRITISH; each with one verified and one
    referred check-in."""
    now = datetime.now(UTC)
    async with db.transaction() as s:
        for i in range(27):
            ethnicity = "BLACK_AFRICAN" if i < 12 else "ASIAN_INDIAN" if i < 24 else "WHITE_BRITISH"
            wearer, order, enrolment = await add_wearer(
                s,
                caseworker_id=caseworker_id,
                first_name=f"P{i}",
                last_name="Person",
                date_of_birth=date(1985, 1, 1),
                characteristics={"ethnicity": ethnicity, "religion": "NO_RELIGION", "disability": "NO"},
            )
            await add_prompt(s, db.settings, wearer, order, enrolment, outcome="VERIFIED", at=now - timedelta(days=1))
            await add_prompt(s, db.settings, wearer, order, enrolment, outcome="REFERRED", at=now - timedelta(days=2))


def _table(report: dict[str, Any], title: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["title"] == title)


async def test_small_groups_are_suppressed_and_the_totals_do_not_give_them_away(
    client: Any, token_for: Any, make_staff: Any, db: Database
) -> None:
    caseworker = await make_staff(Role.CASEWORKER)
    supervisor = await make_staff(Role.SUPERVISOR)
    await _population(db, caseworker.id)
    response = await client.get(f"{BASE}/proportionality", headers=token_for(supervisor))
    assert response.status_code == 200, response.text
    table = _table(response.json(), "Orders by ethnic group")
    rows = {r["group"]: r for r in table["rows"]}
    assert rows["WHITE"]["values"][0] is None  # 3 orders
    assert rows["WHITE"]["total"] is None
    # whatever stays visible, no line (row or column, totals included) has exactly one hidden cell
    lines = [[*r["values"], r["total"]] for r in table["rows"]] + [[*table["totals"], table["grand_total"]]]
    lines += [list(column) for column in zip(*lines, strict=True)]
    assert all(sum(v is None for v in line) != 1 for line in lines)
    checkins = _table(response.json(), "Check-in outcomes by ethnic group")
    black = next(r for r in checkins["rows"] if r["group"] == "BLACK")
    assert black["values"][:2] == [12, 12]
    assert black["rates"]["verified_rate"] == 0.5
    white = next(r for r in checkins["rows"] if r["group"] == "WHITE")
    assert white["values"][0] is None
    assert white["rates"]["verified_rate"] is None
    assert "P0" not in response.text  # aggregate only: no names, no ids


async def test_outcomes_show_false_referrals_by_group(
    client: Any, token_for: Any, make_staff: Any, db: Database
) -> None:
    caseworker = await make_staff(Role.CASEWORKER)
    supervisor = await make_staff(Role.SUPERVISOR)
    await _population(db, caseworker.id)
    queue = (await client.get("/api/v1/review/queue", params={"limit": 100}, headers=token_for(caseworker))).json()
    for item in queue["items"]:
        if item["wearer_name"] in {f"P{i} Person" for i in range(12)}:
            await client.post(
                f"/api/v1/review/items/{item['id']}/decision",
                json={"outcome": "ACCEPTED", "reason": "genuine"},
                headers=token_for(caseworker),
            )
    report = (await client.get(f"{BASE}/outcomes", headers=token_for(supervisor))).json()
    table = _table(report, "Compliance and referrals by ethnic group")
    black = next(r for r in table["rows"] if r["group"] == "BLACK")
    assert black["values"][:2] == [12, 12]
    assert black["rates"]["false_referral_rate"] == 1.0
    assert black["rates"]["compliance_rate"] == 1.0


async def test_reports_are_for_supervisors_and_admins_and_their_read_is_audited(
    client: Any, token_for: Any, make_staff: Any, db: Database
) -> None:
    caseworker = await make_staff(Role.CASEWORKER)
    admin = await make_staff(Role.ADMIN)
    assert (await client.get(f"{BASE}/outcomes", headers=token_for(caseworker))).status_code == 403
    response = await client.get(f"{BASE}/proportionality.csv", headers=token_for(admin))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["table", "dimension", "group", "measure", "value"]
    async with db.transaction() as s:
        audited = (
            (
                await s.execute(
                    select(AuditEvent).where(AuditEvent.action == "report.protected_characteristics.aggregate_read")
                )
            )
            .scalars()
            .all()
        )
    assert len(audited) == 1
