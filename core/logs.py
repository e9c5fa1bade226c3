"""Structured JSON logs; every line carries the request id bound for the current request."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from core.settings import Settings

REDACTED = "[redacted]"
# Keys whose values never reach a log line, whoever logs them.
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "cookie",
        "set-cookie",
        "secret",
        "totp",
        "code",
        "otp",
        "recovery_code",
        "image",
        "images",
        "frames",
        "photo",
        "template",
        "encoding",
        "private_key",
        "mfa_token",
        "totp_secret",
        "recovery_codes",
        "x-device-signature",
        "signature",
    }
)
# Token shapes that must not survive even inside a message string: JWTs and our opaque refresh tokens.
_TOKEN_SHAPES = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*|emr_[A-Za-z0-9_-]{20,}")


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in SENSITIVE_KEYS:
            event[key] = REDACTED
        elif isinstance(event[key], str) and ("eyJ" in event[key] or "emr_" in event[key]):
            event[key] = _TOKEN_SHAPES.sub(REDACTED, event[key])
    return event


def configure_logging(settings: Settings) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if settings.logging.json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.logging.level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Our middleware writes one access line per request, with the request id and route template.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
