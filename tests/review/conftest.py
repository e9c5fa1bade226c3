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
