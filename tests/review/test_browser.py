"""The caseworker pages in a real headless chromium against a real uvicorn server on a migrated SQLite file:
sign in with password and code, open the queue, decide a referred item with a reason, see it leave the queue,
visit every page; a screenshot of each goes to ``test-artifacts/screenshots/`` (git-ignored)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
SERVER_LIFETIME_SECONDS = 180


def _requirements() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"chromium not installed at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed")
    if missing:
        message = "; ".join(missing)
        if REQUIRE:
            pytest.fail(message + " (EMON_REQUIRE_SERVICES=1)")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(settings: Any) -> dict[str, Any]:
    from argon2 import PasswordHasher

    from core.db import Database
    from core.ids import uuid7
    from review.demo import add_prompt, add_wearer, sample_photo
    from security.mfa import Totp
    from security.models import StaffUser

    db = Database(settings)
    totp = Totp(settings)
    hashed = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(PASSWORD)
    people: dict[str, Any] = {}
    now = datetime.now(UTC)
    try:
        async with db.transaction() as s:
            for username, role in (("caseworker.browser", "caseworker"), ("supervisor.browser", "supervisor")):
                secret = totp.new_secret()
                user_id = uuid7()
                s.add(
                    StaffUser(
                        id=user_id,
                        username=username,
                        display_name=username.replace(".", " ").title(),
                        role=role,
                        password_hash=hashed,
                        totp_secret=totp.seal(secret, user_id),
                        totp_enrolled_at=now,
                    )
                )
                people[role] = {"username": username, "secret": secret, "id": user_id}
            await s.flush()
            wearer, order, enrolment = await add_wearer(
                s, caseworker_id=people["caseworker"]["id"], first_name="Ayo", last_name="Browser"
            )
            referred = await add_prompt(
                s,
                settings,
                wearer,
                order,
                enrolment,
                outcome="REFERRED",
                at=now - timedelta(hours=30),
                reasons=["LOW_MATCH"],
                distance=0.56,
                photo=sample_photo(),
            )
            await add_prompt(s, settings, wearer, order, enrolment, outcome="MISSED", at=now - timedelta(hours=20))
            for hours in (4, 28, 52, 76):
                await add_prompt(
                    s, settings, wearer, order, enrolment, outcome="VERIFIED", at=now - timedelta(hours=hours)
                )
            # a population for the evidence reports: groups large enough to publish, one small enough to hide
            groups = [("BLACK_AFRICAN", "MUSLIM", 12), ("WHITE_BRITISH", "CHRISTIAN", 12), ("ASIAN_INDIAN", "HINDU", 4)]
            n = 0
            for ethnicity, religion, count in groups:
                for _ in range(count):
                    n += 1
                    other, other_order, other_enrolment = await add_wearer(
                        s,
                        caseworker_id=None,
                        enrolled_by=people["supervisor"]["id"],
                        first_name=f"R{n}",
                        last_name="Report",
                        sex="MALE" if n % 3 else "FEMALE",
                        characteristics={"ethnicity": ethnicity, "religion": religion, "disability": "NO"},
                    )
                    for day, outcome in ((1, "VERIFIED"), (2, "VERIFIED"), (3, "REFERRED")):
                        await add_prompt(
                            s,
                            settings,
                            other,
                            other_order,
                            other_enrolment,
                            outcome=outcome,
                            at=now - timedelta(days=day),
                        )
        people["item"] = str(referred["alert"].prompt_id)
        people["wearer"] = str(wearer.id)
    finally:
        await db.dispose()
    return people


@pytest.fixture
def server(tmp_path: Path) -> Any:
    _requirements()
    from api.migrate import upgrade

    env = {
        "EMON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'browser.db'}",
        "EMON_HTTP_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMON_SECURITY_JWT_KEYS_DIR": str(tmp_path / "keys"),
        "EMON_LOGGING_JSON": "true",
    }
    settings = make_settings(env["EMON_DATABASE_URL"], **env)
    upgrade(settings)
    people = asyncio.run(_seed(settings))
    port = _free_port()
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("EMON_")} | env
    # `timeout` ends the server by itself even if this test process is killed first
    command = [
        shutil.which("timeout") or "timeout",
        str(SERVER_LIFETIME_SECONDS),
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.asgi:create",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the server did not start: " + (tmp_path / "server.log").read_text()[-2000:])
            time.sleep(0.3)
        yield {"base": base, **people}
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        if process.poll() is None:
            process.kill()
        log.close()


def _code(secret: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).now()


def _sign_in(page: Any, base: str, person: dict[str, Any]) -> None:
    page.goto(f"{base}/review/sign-in")
    page.get_by_label("Username").fill(person["username"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/review/sign-in/code")
    page.get_by_label("Security code").fill(_code(person["secret"]))
    page.get_by_role("button", name="Sign in").click()


def test_a_caseworker_signs_in_decides_a_referred_item_and_visits_every_page(server: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    base = server["base"]
    violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            page.on(
                "console",
                lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
            )

            page.goto(f"{base}/review/sign-in")
            page.screenshot(path=str(SHOTS / "01-sign-in.png"), full_page=True)
            page.get_by_label("Username").fill(server["caseworker"]["username"])
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Continue").click()
            page.wait_for_url(f"{base}/review/sign-in/code")
            page.screenshot(path=str(SHOTS / "02-sign-in-code.png"), full_page=True)
            page.get_by_label("Security code").fill(_code(server["caseworker"]["secret"]))
            page.get_by_role("button", name="Sign in").click()

            page.wait_for_url(f"{base}/review/queue")
            expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
            item_link = page.locator(f'a[href="/review/items/{server["item"]}"]')
            expect(item_link).to_have_count(1)
            page.screenshot(path=str(SHOTS / "03-queue.png"), full_page=True)

            item_link.click()
            page.wait_for_url(f"{base}/review/items/{server['item']}")
            expect(page.get_by_text("0.560")).to_be_visible()
            page.get_by_role("link", name="Show the check-in photos").click()
            photo = page.get_by_role("img", name="Check-in photo 1 sent by the watch")
            expect(photo).to_be_visible()
            assert page.evaluate("(img) => img.naturalWidth", photo.element_handle()) > 0
            page.screenshot(path=str(SHOTS / "04-item.png"), full_page=True)

            page.get_by_role("button", name="Save decision").click()  # nothing chosen: the error summary
            expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
            page.screenshot(path=str(SHOTS / "05-item-errors.png"), full_page=True)

            page.get_by_label("Accepted (compliant)").check()
            page.get_by_label("Reason for your decision").fill("Same person as enrolled; the light was poor.")
            page.get_by_role("button", name="Save decision").click()
            page.wait_for_url(f"{base}/review/queue")
            expect(page.get_by_text("Decision saved: Accepted (compliant).")).to_be_visible()
            expect(page.locator(f'a[href="/review/items/{server["item"]}"]')).to_have_count(0)
            page.screenshot(path=str(SHOTS / "06-queue-after-decision.png"), full_page=True)

            page.goto(f"{base}/review/items/{server['item']}")
            expect(page.get_by_role("cell", name="Same person as enrolled; the light was poor.")).to_be_visible()

            page.get_by_role("link", name="Caseload").first.click()
            expect(page.get_by_role("heading", name="Caseload")).to_be_visible()
            page.screenshot(path=str(SHOTS / "07-caseload.png"), full_page=True)

            page.get_by_role("link", name="Ayo Browser").click()
            expect(page.get_by_role("heading", name="Ayo Browser")).to_be_visible()
            expect(page.locator("svg.chart")).to_have_count(1)
            page.screenshot(path=str(SHOTS / "08-wearer.png"), full_page=True)
            page.get_by_role("button", name="Send a check-in prompt to the watch now").click()
            expect(page.get_by_text("Prompt sent.")).to_be_visible()

            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{base}/review/sign-in")
            page.goto(f"{base}/review/queue")
            page.wait_for_url(f"{base}/review/sign-in")

            _sign_in(page, base, server["supervisor"])
            page.wait_for_url(f"{base}/review/queue")
            page.get_by_role("link", name="Evidence reports").click()
            expect(page.get_by_role("heading", name="Evidence reports")).to_be_visible()
            assert page.locator("svg.chart").count() > 0
            page.screenshot(path=str(SHOTS / "09-reports.png"), full_page=True)
        except Exception:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
                (SHOTS / "failure.html").write_text(page.url + "\n" + page.content())
            raise
        finally:
            browser.close()
    assert violations == []
    assert len(list(SHOTS.glob("*.png"))) >= 9
