"""One place that says what time it is, so tests can move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return _now()


def monotonic() -> float:
    return time.monotonic()


def set_clock(now: Callable[[], datetime] | None) -> None:
    """Replace the wall clock (tests only); ``None`` restores the real one."""
    global _now
    _now = now if now is not None else (lambda: datetime.now(UTC))
