"""Uploads are decoded safely: type from content, limits before decoding, one reason code per rejection."""

from __future__ import annotations

import contextlib
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from biometrics.decode import DecodeError, DecodeReason, decode_image
from biometrics.policy import DecodeLimits
from tests.biometrics.conftest import encode_image


def gradient(width: int = 320, height: int = 240) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    return np.stack(
        [np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)), np.full((height, width), 90, np.uint8)], -1
    )


def reason(data: bytes, limits: DecodeLimits | None = None) -> DecodeReason:
    with pytest.raises(DecodeError) as caught:
        decode_image(data, limits)
    return caught.value.reason


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming huge dimensions, with a few bytes of compressed zeros (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def test_a_plain_jpeg_decodes_to_8_bit_rgb_with_its_hash() -> None:
    data = encode_image(gradient())
    decoded = decode_image(data)
    assert decoded.rgb.dtype == np.uint8
    assert decoded.rgb.shape == (240, 320, 3)
    assert decoded.format == "JPEG"
    assert len(decoded.sha256) == 64


def test_zero_bytes_are_empty() -> None:
    assert reason(b"") is DecodeReason.EMPTY


def test_an_upload_over_the_byte_limit_is_refused_before_decoding() -> None:
    data = encode_image(gradient())
    assert reason(data, DecodeLimits(max_bytes=len(data) - 1)) is DecodeReason.TOO_LARGE_BYTES


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a" + b"\x00" * 100,
        b"BM" + b"\x00" * 100,
        b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64,
        b"%PDF-1.7\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
    ids=["gif", "bmp", "webp", "pdf", "svg"],
)
def test_types_other_than_jpeg_and_png_are_unsupported_whatever_they_are_called(data: bytes) -> None:
    assert reason(data) is DecodeReason.UNSUPPORTED_TYPE


def test_text_posing_as_a_jpeg_is_unsupported() -> None:
    assert reason(b"this is not a photo.jpg\n" * 10) is DecodeReason.UNSUPPORTED_TYPE


def test_jpeg_magic_followed_by_garbage_is_corrupt() -> None:
    assert reason(b"\xff\xd8\xff\xe0" + b"garbage" * 50) is DecodeReason.CORRUPT


def test_a_png_posing_as_jpeg_is_read_as_png_by_its_content() -> None:
    # Only the bytes count: a PNG is a PNG whatever the upload was called.
    assert decode_image(encode_image(gradient(), "PNG")).format == "PNG"


def test_a_truncated_jpeg_is_rejected_not_filled_in() -> None:
    data = encode_image(gradient(640, 480), quality=90)
    assert reason(data[: len(data) // 2]) is DecodeReason.TRUNCATED


def test_a_truncated_png_is_rejected() -> None:
    data = encode_image(gradient(640, 480), "PNG")
    assert reason(data[: len(data) // 2]) is DecodeReason.TRUNCATED


def test_decoding_refuses_to_run_when_truncated_images_are_allowed_globally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        decode_image(encode_image(gradient()))


def test_a_tiny_png_claiming_huge_dimensions_is_refused_from_its_header() -> None:
    bomb = png_header_only(30_000, 30_000)
    assert len(bomb) < 200
    assert reason(bomb) is DecodeReason.TOO_MANY_PIXELS


def test_a_png_within_pillows_global_limit_but_over_ours_is_refused() -> None:
    bomb = png_header_only(6_000, 5_000)  # 30 MP: under Pillow's 89 MP default, over our 24 MP
    assert reason(bomb) is DecodeReason.TOO_MANY_PIXELS


def test_a_jpeg_with_an_overlong_side_is_refused() -> None:
    data = encode_image(np.zeros((8, 9_000, 3), np.uint8))
    assert reason(data) is DecodeReason.TOO_MANY_PIXELS


def test_an_animated_png_is_rejected_not_reduced_to_its_first_frame() -> None:
    frames = [Image.fromarray(gradient()), Image.fromarray(255 - gradient())]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert reason(buffer.getvalue()) is DecodeReason.ANIMATED


def test_an_animated_gif_is_unsupported() -> None:
    frames = [Image.fromarray(gradient()).convert("P"), Image.fromarray(255 - gradient()).convert("P")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert reason(buffer.getvalue()) is DecodeReason.UNSUPPORTED_TYPE


def test_a_cmyk_jpeg_is_converted_to_rgb() -> None:
    cmyk = Image.fromarray(gradient()).convert("CMYK")
    buffer = io.BytesIO()
    cmyk.save(buffer, "JPEG", quality=95)
    decoded = decode_image(buffer.getvalue())
    assert decoded.rgb.shape == (240, 320, 3)
    # colours survive the round trip within JPEG error
    assert np.abs(decoded.rgb.astype(int) - gradient().astype(int)).mean() < 12


def test_a_16_bit_grey_png_is_scaled_not_clipped_to_8_bits() -> None:
    wide = (np.linspace(0, 65535, 256 * 64).reshape(64, 256)).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, "PNG")
    decoded = decode_image(buffer.getvalue())
    grey = decoded.rgb[..., 0]
    assert grey.min() == 0
    assert grey.max() == 255
    assert 120 < grey.mean() < 135  # a ramp averages mid-grey; clipping would give ~254


def test_a_palette_png_with_transparency_is_flattened_to_rgb() -> None:
    rgba = np.zeros((50, 60, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:25, :, 3] = 255  # top half opaque red, bottom half transparent
    image = Image.fromarray(rgba, "RGBA").convert("P")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=0)
    decoded = decode_image(buffer.getvalue())
    assert decoded.rgb.shape == (50, 60, 3)


def test_a_png_with_alpha_is_flattened_onto_white() -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)  # fully transparent black
    decoded = decode_image(encode_image(rgba, "PNG"))
    assert decoded.rgb.min() == 255


def test_the_exif_orientation_is_applied() -> None:
    image = Image.fromarray(gradient(320, 240))
    exif = image.getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    decoded = decode_image(buffer.getvalue())
    assert decoded.rgb.shape == (320, 240, 3)


def test_large_photos_are_downscaled_to_the_analysis_size() -> None:
    decoded = decode_image(encode_image(gradient(2_000, 1_000)))
    assert max(decoded.rgb.shape[:2]) == 640
    assert decoded.original_width == 2_000
    assert decoded.scale == pytest.approx(0.32)


def test_decode_errors_survive_pickling_between_processes() -> None:
    import pickle

    error = DecodeError(DecodeReason.TRUNCATED, "cut short")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  (our own object)
    assert copy.reason is DecodeReason.TRUNCATED
    assert copy.message == "cut short"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_either_decode_or_raise_a_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_image(data)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=4000), st.binary(min_size=1, max_size=16))
def test_a_damaged_jpeg_never_escapes_as_anything_but_a_decode_error(offset: int, noise: bytes) -> None:
    data = bytearray(_SAMPLE_JPEG)
    position = offset % len(data)
    data[position : position + len(noise)] = noise
    with contextlib.suppress(DecodeError):
        decode_image(bytes(data))


_SAMPLE_JPEG = encode_image(gradient(96, 64), quality=80)


def test_a_multi_picture_jpeg_from_a_phone_is_read_as_its_primary_image() -> None:
    primary, preview = Image.new("RGB", (60, 40), (200, 0, 0)), Image.new("RGB", (60, 40), (0, 0, 200))
    buffer = io.BytesIO()
    primary.save(buffer, "MPO", save_all=True, append_images=[preview])
    decoded = decode_image(buffer.getvalue())
    assert decoded.rgb.shape == (40, 60, 3)
    assert decoded.rgb[..., 0].mean() > 150
    assert decoded.rgb[..., 2].mean() < 50


def test_a_16_bit_colour_png_decodes_to_8_bit_rgb() -> None:
    import cv2

    wide = np.zeros((40, 50, 3), np.uint16)
    wide[..., 2] = 65535  # OpenCV writes BGR: full red
    ok, data = cv2.imencode(".png", wide)
    assert ok
    decoded = decode_image(data.tobytes())
    assert decoded.rgb.dtype == np.uint8
    assert decoded.rgb[..., 0].min() == 255
    assert decoded.rgb[..., 2].max() == 0
