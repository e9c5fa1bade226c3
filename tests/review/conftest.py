"""Review specifications share the security package's enrolled accounts (password + TOTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import TEST_HOST
from tests.security.conftest import Account, make_account, password_hash, sign_in  # noqa: F401


@pytest.fixture
async def web(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A browser-like client that keeps cookies and does not follow redirects (so tests can see them)."""
    async with AsyncTestClient(app, base_url=f"http://{TEST_HOST}") as c:
        c.follow_redirects = False
        yield c


from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from core.db import Database  # noqa: E402
from security.actor import Actor, Role  # noqa: E402


@dataclass
class Scenario:
    caseworker: Actor
    other_caseworker: Actor
    supervisor: Actor
    wearer_id: Any
    other_wearer_id: Any
    referred: Any  # alert id of a referred check-in with a photo, in the caseworker's caseload
    referred_checkin: Any
    missed: Any  # alert id of a missed prompt, same caseload
    foreign: Any  # alert id in the other caseworker's caseload
    foreign_checkin: Any


@pytest.fixture
async def scenario(db: Database, make_staff: Any) -> Scenario:
    from review.demo import add_prompt, add_wearer, sample_photo

    caseworker = await make_staff(Role.CASEWORKER)
    other = await make_staff(Role.CASEWORKER)
    supervisor = await make_staff(Role.SUPERVISOR)
    now = datetime.now(UTC)
    async with db.transaction() as s:
        wearer, order, enrolment = await add_wearer(
            s, caseworker_id=caseworker.id, first_name="Ada", last_name="=HYPERLINK(1)"
        )
        referred = await add_prompt(
            s,
            db.settings,
            wearer,
            order,
            enrolment,
            outcome="REFERRED",
            at=now - timedelta(days=2),
            reasons=["LOW_MATCH"],
            distance=0.55,
            photo=sample_photo(),
        )
        missed = await add_prompt(
            s, db.settings, wearer, order, enrolment, outcome="MISSED", at=now - timedelta(days=1)
        )
        await add_prompt(s, db.settings, wearer, order, enrolment, outcome="VERIFIED", at=now - timedelta(hours=5))
        other_wearer, other_order, other_enrolment = await add_wearer(
            s, caseworker_id=other.id, first_name="Bo", last_name="Other"
        )
        foreign = await add_prompt(
            s,
            db.settings,
            other_wearer,
            other_order,
            other_enrolment,
            outcome="REFERRED",
            at=now - timedelta(days=3),
            reasons=["LOW_MATCH"],
            photo=sample_photo(1),
        )
    return Scenario(
        caseworker=caseworker,
        other_caseworker=other,
        supervisor=supervisor,
        wearer_id=wearer.id,
        other_wearer_id=other_wearer.id,
        referred=referred["alert"].prompt_id,
        referred_checkin=referred["checkin"].id,
        missed=missed["alert"].prompt_id,
        foreign=foreign["alert"].prompt_id,
        foreign_checkin=foreign["checkin"].id,
    )
