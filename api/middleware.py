"""ASGI middleware of the composition root: request ids and one structured access line per request."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import get_logger

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._-]{8,64}$")
access_log = get_logger("emon.access")


class RequestContextMiddleware:
    """Gives each request an id (a well-formed incoming ``X-Request-ID`` is kept), echoes it and logs the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), b"")
        request_id = incoming.decode() if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route: Any = scope.get("path_template") or "<unmatched>"
            access_log.info(
                "request",
                method=scope.get("method"),
                route=route,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client=(scope.get("client") or ("?",))[0],
            )
            structlog.contextvars.clear_contextvars()
