"""Evidence photos: type sniffed from the content, size-capped, encrypted (AES-256-GCM) in a content-addressed store.

Files live under ``EMON_FIELDWORK_PHOTO_DIR`` as ``<first two hex>/<sha256>``; each holds a format tag, a random
nonce and the ciphertext, with the hash as associated data so a file cannot be swapped for another. The key is
derived (HKDF-SHA256) from the application secret, so no key sits next to the files. Photos arrive before or after
the fitting that cites them: the store is keyed by content, so either order converges.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.exc import IntegrityError

from biometrics.decode import DecodeError, DecodeReason, decode_image
from biometrics.policy import DecodeLimits
from core.errors import NotFound, PayloadTooLarge, UnsupportedMedia, ValidationFailed
from core.settings import Settings
from fieldwork.models import Photo
from fieldwork.schemas import PhotoOut
from fieldwork.service import Ctx

FORMAT = b"EMP1"
NONCE_BYTES = 12
ALLOWED_DECLARED = {"image/jpeg", "image/png", "application/octet-stream"}


def sniff(data: bytes) -> str | None:
    """The image type from its magic bytes (never from the name or the declared type)."""
    if data.startswith(b"\xff\xd8\xff") and len(data) > 4:
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def _key(settings: Settings) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"emon-fieldwork", info=b"evidence-photos-v1")
    return hkdf.derive(settings.security.secret_key.encode())


def _path(settings: Settings, sha256: str) -> Path:
    return Path(settings.fieldwork.photo_dir) / sha256[:2] / sha256


def write_encrypted(settings: Settings, sha256: str, data: bytes) -> None:
    path = _path(settings, sha256)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    nonce = os.urandom(NONCE_BYTES)
    blob = FORMAT + nonce + AESGCM(_key(settings)).encrypt(nonce, data, sha256.encode())
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(blob)
    os.replace(temporary, path)  # atomic: a reader sees the whole file or none


def read_decrypted(settings: Settings, sha256: str) -> bytes:
    blob = _path(settings, sha256).read_bytes()
    if not blob.startswith(FORMAT):
        raise ValueError("not an evidence photo file")
    nonce = blob[len(FORMAT) : len(FORMAT) + NONCE_BYTES]
    data = AESGCM(_key(settings)).decrypt(nonce, blob[len(FORMAT) + NONCE_BYTES :], sha256.encode())
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("photo content does not match its hash")
    return data


def check_decodes(data: bytes, max_bytes: int) -> None:
    """Evidence must be a picture a reviewer's browser can open safely: the whole image decodes within the pixel
    limits (no truncated file, decompression bomb or animation). Bytes after the image (a JPEG+ZIP polyglot) are
    kept, since the photo is addressed by the hash of exactly what was sent, and are served as the image type with
    ``nosniff``."""
    try:
        decode_image(data, DecodeLimits(max_bytes=max_bytes))
    except DecodeError as exc:
        if exc.reason is DecodeReason.TOO_LARGE_BYTES:
            raise PayloadTooLarge(f"a photo may be at most {max_bytes} bytes") from exc
        if exc.reason is DecodeReason.UNSUPPORTED_TYPE:
            raise UnsupportedMedia("the content is not a JPEG or PNG image", code="not-an-image") from exc
        raise ValidationFailed(
            "The photo is not a usable image",
            errors=[{"field": "body", "message": exc.message}],
            code=exc.reason.value.lower(),
        ) from exc


async def upload(ctx: Ctx, sha256: str, data: bytes, declared_type: str | None) -> PhotoOut:
    limit = ctx.settings.http.max_image_bytes
    if len(data) > limit:
        raise PayloadTooLarge(f"a photo may be at most {limit} bytes")
    declared = (declared_type or "application/octet-stream").split(";")[0].strip().lower()
    if declared not in ALLOWED_DECLARED:
        raise UnsupportedMedia("send a JPEG or PNG image")
    actual = sniff(data)
    if actual is None:
        raise UnsupportedMedia("the content is not a JPEG or PNG image", code="not-an-image")
    if declared != "application/octet-stream" and declared != actual:
        raise UnsupportedMedia(f"the content is {actual}, not {declared}", code="type-mismatch")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValidationFailed(
            "The content does not match its address",
            errors=[{"field": "sha256", "message": "the SHA-256 of the body differs from the one in the path"}],
        )
    existing = await ctx.session.get(Photo, sha256)
    if existing is None:
        await asyncio.to_thread(check_decodes, data, limit)
    else:
        return PhotoOut(
            sha256=sha256, content_type=existing.content_type, size_bytes=existing.size_bytes, created=False
        )
    await asyncio.to_thread(write_encrypted, ctx.settings, sha256, data)
    savepoint = await ctx.session.begin_nested()
    try:
        ctx.session.add(Photo(sha256=sha256, content_type=actual, size_bytes=len(data), uploaded_by=ctx.actor.id))
        await ctx.session.flush()
        await savepoint.commit()
    except IntegrityError:  # the same photo arrived concurrently (a retry): content-addressed, so both agree
        await savepoint.rollback()
        return PhotoOut(sha256=sha256, content_type=actual, size_bytes=len(data), created=False)
    await ctx.audit("photo.upload", "photo", sha256, details={"content_type": actual, "size": len(data)})
    return PhotoOut(sha256=sha256, content_type=actual, size_bytes=len(data), created=True)


async def download(ctx: Ctx, sha256: str) -> tuple[bytes, str]:
    """A stored photo's plaintext, for supervisors reviewing evidence (audited)."""
    photo = await ctx.session.get(Photo, sha256)
    if photo is None:
        raise NotFound("no such photo")
    data = await asyncio.to_thread(read_decrypted, ctx.settings, sha256)
    await ctx.audit("photo.read", "photo", sha256)
    return data, photo.content_type
