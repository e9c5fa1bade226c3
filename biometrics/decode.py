"""Safe decoding of untrusted uploads into 8-bit RGB arrays.

Rules, in order:

- the type comes from the content (magic bytes), never from a file name or a declared content type; only JPEG
  and PNG are accepted, and Pillow is told to try only the format the magic bytes claim;
- the byte size, the dimensions and the pixel count are checked from the header, before any pixel is decoded,
  with our own limits (Pillow's global ``MAX_IMAGE_PIXELS`` is only a second line);
- animated PNGs are rejected, not reduced to their first frame: a check-in is one still picture; a
  multi-picture JPEG (MPO, as phone cameras write) is read as its primary image, frame 0;
- the whole image is decoded eagerly so a truncated file fails here, and Pillow's global
  ``LOAD_TRUNCATED_IMAGES`` must be off (importing ``face_recognition`` turns it on, which is one reason this
  package does not import it);
- the EXIF orientation is applied; CMYK, 16-bit, palette, grey and alpha images become 8-bit RGB;
- large JPEGs are decoded at a reduced DCT scale (``draft``) and everything is downscaled to the analysis
  size.

Each rejection carries one reason code (:class:`DecodeReason`).
"""

from __future__ import annotations

import enum
import hashlib
import io
import warnings

import msgspec
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from biometrics.policy import DecodeLimits

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class DecodeReason(enum.StrEnum):
    EMPTY = "EMPTY"
    TOO_LARGE_BYTES = "TOO_LARGE_BYTES"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    TOO_MANY_PIXELS = "TOO_MANY_PIXELS"
    ANIMATED = "ANIMATED"
    TRUNCATED = "TRUNCATED"
    CORRUPT = "CORRUPT"


class DecodeError(Exception):
    """An upload that cannot be used as a face image; ``reason`` is a :class:`DecodeReason`."""

    def __init__(self, reason: DecodeReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[DecodeError], tuple[DecodeReason, str]]:
        # Keeps the exception picklable across worker processes.
        return (DecodeError, (self.reason, self.message))


class DecodedImage(msgspec.Struct, frozen=True):
    """An upload decoded, oriented and downscaled for analysis. ``rgb`` is HxWx3 uint8."""

    rgb: np.ndarray
    sha256: str
    format: str
    original_width: int
    original_height: int
    #: analysis size / oriented original size (1.0 when not downscaled)
    scale: float


def sniff_format(data: bytes) -> str | None:
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data.startswith(PNG_MAGIC):
        return "PNG"
    return None


def decode_image(data: bytes, limits: DecodeLimits | None = None) -> DecodedImage:
    """Decode ``data`` or raise :class:`DecodeError`."""
    limits = limits or DecodeLimits()
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A global switch someone else flipped would make truncated uploads pass silently.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is enabled in this process; refusing to decode")
    if not data:
        raise DecodeError(DecodeReason.EMPTY, "the upload is empty")
    if len(data) > limits.max_bytes:
        raise DecodeError(DecodeReason.TOO_LARGE_BYTES, f"{len(data)} bytes exceeds {limits.max_bytes}")
    fmt = sniff_format(data)
    if fmt is None:
        raise DecodeError(DecodeReason.UNSUPPORTED_TYPE, "only JPEG and PNG images are accepted")
    digest = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DecodeError(DecodeReason.TOO_MANY_PIXELS, "the image dimensions are too large") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise DecodeError(DecodeReason.CORRUPT, f"not a readable {fmt} image") from exc
        with image:
            rgb, width, height = _load(image, fmt, limits)
    oriented_long = max(rgb.shape[0], rgb.shape[1])
    return DecodedImage(
        rgb=rgb,
        sha256=digest,
        format=fmt,
        original_width=width,
        original_height=height,
        scale=oriented_long / max(width, height),
    )


def _load(image: Image.Image, fmt: str, limits: DecodeLimits) -> tuple[np.ndarray, int, int]:
    width, height = image.size
    if width <= 0 or height <= 0:
        raise DecodeError(DecodeReason.CORRUPT, "the image has no pixels")
    if max(width, height) > limits.max_side_px or width * height > limits.max_pixels:
        raise DecodeError(
            DecodeReason.TOO_MANY_PIXELS,
            f"{width}x{height} exceeds {limits.max_side_px} px per side or {limits.max_pixels} pixels",
        )
    if image.format == "MPO":
        # Phone cameras write multi-picture JPEGs: frame 0 is the photo, the rest are previews or depth maps.
        image.seek(0)
    elif getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) != 1:
        raise DecodeError(DecodeReason.ANIMATED, "animated or multi-frame images are not accepted")
    target = limits.analysis_max_side_px
    if fmt == "JPEG" and max(width, height) > target:
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying at or above the analysis size.
        factor = target / max(width, height)
        image.draft(image.mode, (max(1, int(width * factor) + 1), max(1, int(height * factor) + 1)))
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeError(DecodeReason.TOO_MANY_PIXELS, "the image dimensions are too large") from exc
    except (OSError, EOFError, SyntaxError, ValueError) as exc:
        text = str(exc).lower()
        if isinstance(exc, EOFError) or "truncat" in text or "premature" in text:
            raise DecodeError(DecodeReason.TRUNCATED, "the image file is truncated") from exc
        raise DecodeError(DecodeReason.CORRUPT, f"the {fmt} data is corrupt") from exc
    try:
        oriented = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise DecodeError(DecodeReason.CORRUPT, "the EXIF orientation is unreadable") from exc
    rgb = _to_rgb8(oriented)
    if max(rgb.width, rgb.height) > target:
        rgb.thumbnail((target, target), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return np.asarray(rgb, dtype=np.uint8).copy(), width, height


def _to_rgb8(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in {"I;16", "I;16L", "I;16B", "I;16N", "I"}:
        # 16-bit grey: Pillow's own conversion clips at 255 instead of scaling.
        wide = np.asarray(image).astype(np.uint32)
        top = 65535 if mode.startswith("I;16") or wide.max(initial=0) > 255 else 255
        grey = (wide * 255 // top).clip(0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "F":
        grey = np.clip(np.asarray(image), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "P" or mode == "PA":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in {"RGBA", "LA", "RGBa", "La"}:
        # Flatten transparency onto white, as on a passport-style background.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # L, 1, CMYK, YCbCr, LAB, HSV...
    return image.convert("RGB")
