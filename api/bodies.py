"""Request body caps: small for JSON everywhere, larger only on the routes that carry images.

The application cap is ``EMON_HTTP_MAX_JSON_BYTES``. A route whose JSON body carries images (base64 ``bytes``
fields, e.g. check-in frames or enrolment photos) gets room for ``EMON_CHECKIN_MAX_FRAMES`` images of
``EMON_HTTP_MAX_IMAGE_BYTES`` each, base64-encoded; a route whose body is one raw image says so with
``opt={"raw_image": True}`` and gets ``EMON_HTTP_MAX_IMAGE_BYTES``; a route with a size setting of its own names it,
``opt={"body_cap": "fieldwork.max_sync_body_bytes"}``. A handler or controller that sets ``request_max_body_size``
itself keeps it. Oversized bodies answer 413 problem+json before they are read.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.types import Empty

from core.errors import UnsupportedMedia
from core.settings import Settings

#: Room for the JSON around the images (location, posture, nonce, ...).
JSON_ENVELOPE_BYTES = 64 * 1024


def image_body_cap(settings: Settings, images: int | None = None) -> int:
    """The largest JSON body carrying ``images`` (default: the most frames a check-in may send) base64 images."""
    count = settings.checkin.max_frames if images is None else images
    return math.ceil(settings.http.max_image_bytes * count * 4 / 3) + JSON_ENVELOPE_BYTES


def raw_image_cap(settings: Settings) -> int:
    """The largest raw image body (one picture, e.g. an evidence photo)."""
    return settings.http.max_image_bytes


def setting_value(settings: Settings, dotted: str) -> int:
    """A size setting by its dotted path (``"fieldwork.max_sync_body_bytes"``)."""
    value: Any = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return int(value)


def carries_images(handler: Any) -> bool:
    """Whether the handler's JSON body has a ``bytes`` field anywhere (msgspec writes those as base64 strings)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    try:
        schema = msgspec.json.schema(data.annotation)
    except (TypeError, ValueError):
        return False
    return b'"contentEncoding":"base64"' in msgspec.json.encode(schema)


def apply_body_caps(app: Litestar, settings: Settings) -> None:
    """Give image-carrying routes without a cap of their own the image cap; the rest inherit the JSON cap."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.request_max_body_size is not Empty:
                continue
            if handler.opt.get("body_cap"):
                handler.request_max_body_size = setting_value(settings, handler.opt["body_cap"])
            elif handler.opt.get("raw_image"):
                handler.request_max_body_size = raw_image_cap(settings)
            elif carries_images(handler):
                handler.request_max_body_size = image_body_cap(settings)


def _json_media(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _expects_json(handler: Any) -> bool:
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    body = getattr(data, "kwarg_definition", None)
    media_type = getattr(body, "media_type", None)
    return media_type is None or str(getattr(media_type, "value", media_type)).endswith("json")


async def require_json_content_type(request: Any) -> None:
    """A JSON route refuses a body declared as anything else (415): a ``text/plain`` or form body is what a
    cross-site form can send without a CORS preflight, and a wrong declaration is a client bug worth naming."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    headers = request.headers
    has_body = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
    if not has_body or not _expects_json(request.route_handler):
        return
    if not _json_media(headers.get("content-type", "")):
        raise UnsupportedMedia("this operation takes application/json")
