"""Security headers on every response. Litestar has no built-in middleware for this."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def build_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    ]
    if settings.is_production:
        hsts = f"max-age={settings.security.headers_hsts_seconds}; includeSubDomains"
        headers.append((b"strict-transport-security", hsts.encode()))
    return headers


class SecurityHeadersMiddleware:
    """Adds the fixed headers; a strict CSP (HTML pages get their own); ``no-store`` unless a handler chose caching."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.fixed = build_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.fixed if h[0] not in present)
                if b"content-security-policy" not in present:
                    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                    csp = PAGE_CSP if content_type.startswith(b"text/html") else API_CSP
                    headers.append((b"content-security-policy", csp.encode()))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
