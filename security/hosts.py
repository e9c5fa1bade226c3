"""Allowed hosts, checked before routing so that every request, matched or not, is covered."""

from __future__ import annotations

import json
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send


def _matches(host: str, allowed: list[str]) -> bool:
    for pattern in allowed:
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and host != pattern[2:]:
            return True
        if host == pattern:
            return True
    return False


def _host_of(scope: Scope) -> str:
    raw = next((v for k, v in scope["headers"] if k == b"host"), b"").decode("latin-1").strip().lower()
    if raw.startswith("["):  # [::1]:8000
        return raw[1 : raw.find("]")] if "]" in raw else raw
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = [h.lower() for h in allowed_hosts]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or _matches(_host_of(scope), self.allowed):
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        body = {
            "type": "https://emon.example/problems/invalid-host",
            "title": "Bad request",
            "status": 400,
            "detail": "The Host header is not one this service answers to",
        }
        if request_id:
            body["request_id"] = request_id
        payload = json.dumps(body).encode()
        start: Any = {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
        await send(start)
        body_message: Any = {"type": "http.response.body", "body": payload}
        await send(body_message)
