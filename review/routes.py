"""The review API under ``/api/v1/review`` for caseworkers and supervisors, and the evidence reports."""

from __future__ import annotations

from typing import Any

ROUTE_HANDLERS: list[Any] = []
