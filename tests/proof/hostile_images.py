"""A corpus of hostile (and odd but valid) images, generated in code.

Each entry says what an upload route must do with it:
- ``refuse``: a 4xx problem+json (not an image we accept, or one that would cost more than it is worth to decode);
- ``accept``: a legitimate image in an unusual form, which decodes to a normal picture (CMYK, 16-bit, EXIF-rotated,
  progressive, a large metadata block, bytes after the end of the image);
- ``either``: well-formed but pointless, so refusing or accepting are both fine; never a 5xx.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

Entry = tuple[str, str, Callable[[], bytes]]


def _picture(width: int = 320, height: int = 240) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.stack([np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)), np.full((height, width), 128, np.uint8)])
    return Image.fromarray(np.moveaxis(rgb, 0, -1), "RGB")


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg(**options: object) -> bytes:
    return _save(_picture(), "JPEG", quality=85, **options)


def png(**options: object) -> bytes:
    return _save(_picture(), "PNG", **options)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_from_rows(width: int, height: int, colour_type: int, rows: bytes, bit_depth: int = 8) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def huge_dimensions_tiny_file() -> bytes:
    """A 100,000 x 100,000 PNG header with one compressed row: a few hundred bytes claiming 10 gigapixels."""
    return _png_from_rows(100_000, 100_000, 0, zlib.compress(b"\x00" * 100_001, 9))


def png_decompression_bomb() -> bytes:
    """6,000 x 6,000 grey (36 MP, over every pixel limit) of zeros: about 35 KiB compressed."""
    width = height = 6_000
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return _png_from_rows(width, height, 0, body)


def png_text_bomb() -> bytes:
    """A small valid PNG with a zTXt chunk inflating to 64 MiB."""
    base = png()
    compressor = zlib.compressobj(9)
    text = b"".join(compressor.compress(b"A" * (1 << 20)) for _ in range(64)) + compressor.flush()
    ztxt = _chunk(b"zTXt", b"Comment\x00\x00" + text)
    return base[:33] + ztxt + base[33:]


def png_bad_crc() -> bytes:
    data = bytearray(png())
    data[29] ^= 0xFF  # the IHDR CRC
    return bytes(data)


def jpeg_huge_declared_dimensions() -> bytes:
    """A real JPEG whose SOF header claims 65,000 x 65,000 pixels."""
    data = bytearray(jpeg())
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            data[at + 5 : at + 9] = struct.pack(">HH", 65_000, 65_000)
            break
    return bytes(data)


def truncated_jpeg() -> bytes:
    data = jpeg()
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    data = png()
    return data[: len(data) * 2 // 3]


def cmyk_jpeg() -> bytes:
    return _save(_picture().convert("CMYK"), "JPEG", quality=85)


def png_16_bit_grey() -> bytes:
    grey = (np.linspace(0, 65535, 320 * 240).reshape(240, 320)).astype(np.uint16)
    return _save(Image.fromarray(grey), "PNG")


def png_16_bit_rgb() -> bytes:
    rows = b""
    for y in range(120):
        row = b"".join(struct.pack(">HHH", x * 400, y * 500, 30000) for x in range(160))
        rows += b"\x00" + row
    return _png_from_rows(160, 120, 2, zlib.compress(rows), bit_depth=16)


def animated_png() -> bytes:
    frames = [_picture(), _picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    return _save(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)


def animated_gif() -> bytes:
    frames = [_picture().convert("P"), _picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("P")]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def polyglot_jpeg_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.sh", "#!/bin/sh\necho owned\n")
    return jpeg() + archive.getvalue()


def polyglot_jpeg_html() -> bytes:
    return jpeg() + b"<html><script>alert(document.domain)</script></html>"


def exif_rotated(orientation: int) -> Callable[[], bytes]:
    def build() -> bytes:
        exif = Image.Exif()
        exif[0x0112] = orientation
        return _save(_picture(), "JPEG", quality=85, exif=exif.tobytes())

    return build


def jpeg_giant_exif() -> bytes:
    """A JPEG whose EXIF block is as large as a JPEG segment allows (64 KiB) of maker-note padding."""
    exif = Image.Exif()
    exif[0x010E] = "x" * 65_000  # ImageDescription
    return _save(_picture(), "JPEG", quality=85, exif=exif.tobytes()[:65_500])


def jpeg_many_app_segments() -> bytes:
    """A JPEG with 60 APP15 segments of 64 KiB each inserted after SOI (about 4 MiB of metadata)."""
    data = jpeg()
    segment = b"\xff\xef" + struct.pack(">H", 65_535) + b"\x00" * 65_533
    return data[:2] + segment * 60 + data[2:]


def progressive_jpeg() -> bytes:
    return _save(_picture(640, 480), "JPEG", quality=90, progressive=True, optimize=True)


def progressive_jpeg_many_scans() -> bytes:
    """A progressive JPEG with its scans repeated: hundreds of SOS segments for the decoder to walk."""
    data = progressive_jpeg()
    first = data.find(b"\xff\xda")
    end = data.rfind(b"\xff\xd9")
    scans = data[first:end]
    return data[:first] + scans * 40 + b"\xff\xd9"


def text_posing_as_jpeg() -> bytes:
    return b"This is not a picture, it is a letter.\n" * 20


def wrong_magic() -> bytes:
    """A real PNG with its signature replaced by GIF's."""
    return b"GIF89a" + png()[6:]


def jpeg_magic_then_garbage() -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def soi_eoi_only() -> bytes:
    return b"\xff\xd8\xff\xd9"


def bmp() -> bytes:
    return _save(_picture(), "BMP")


def webp() -> bytes:
    return _save(_picture(), "WEBP")


def svg_with_script() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="9" height="9"/></svg>'


def one_pixel_png() -> bytes:
    return _save(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG")


def palette_png_with_transparency() -> bytes:
    return _save(_picture().convert("P"), "PNG", transparency=0)


def grey_alpha_png() -> bytes:
    return _save(_picture().convert("LA"), "PNG")


CORPUS: list[Entry] = [
    ("zero bytes", "refuse", lambda: b""),
    ("text posing as an image", "refuse", text_posing_as_jpeg),
    ("wrong magic (GIF signature on PNG data)", "refuse", wrong_magic),
    ("JPEG magic then garbage", "refuse", jpeg_magic_then_garbage),
    ("JPEG SOI+EOI only", "refuse", soi_eoi_only),
    ("truncated JPEG", "refuse", truncated_jpeg),
    ("truncated PNG", "refuse", truncated_png),
    ("PNG with a bad CRC", "refuse", png_bad_crc),
    ("huge dimensions, tiny file (PNG)", "refuse", huge_dimensions_tiny_file),
    ("huge declared dimensions (JPEG)", "refuse", jpeg_huge_declared_dimensions),
    ("PNG decompression bomb (36 MP)", "refuse", png_decompression_bomb),
    ("PNG text-chunk bomb (64 MiB zTXt)", "either", png_text_bomb),
    ("animated PNG", "refuse", animated_png),
    ("animated GIF", "refuse", animated_gif),
    ("BMP", "refuse", bmp),
    ("WebP", "refuse", webp),
    ("SVG with a script", "refuse", svg_with_script),
    ("CMYK JPEG", "accept", cmyk_jpeg),
    ("16-bit grey PNG", "accept", png_16_bit_grey),
    ("16-bit colour PNG", "accept", png_16_bit_rgb),
    ("palette PNG with transparency", "accept", palette_png_with_transparency),
    ("grey+alpha PNG", "accept", grey_alpha_png),
    ("EXIF orientation 8 (rotated 90)", "accept", exif_rotated(8)),
    ("EXIF orientation 3 (upside down)", "accept", exif_rotated(3)),
    ("EXIF orientation out of range (9)", "either", exif_rotated(9)),
    ("JPEG with a 64 KiB EXIF block", "accept", jpeg_giant_exif),
    ("JPEG with 4 MiB of APP segments", "either", jpeg_many_app_segments),
    ("progressive JPEG", "accept", progressive_jpeg),
    ("progressive JPEG with hundreds of scans", "either", progressive_jpeg_many_scans),
    # evidence photos keep them (addressed by the hash of what was sent); check-in frames refuse bytes after the image
    ("polyglot JPEG + ZIP", "either", polyglot_jpeg_zip),
    ("polyglot JPEG + HTML", "either", polyglot_jpeg_html),
    ("one-pixel PNG", "either", one_pixel_png),
]


def corpus() -> list[tuple[str, str, bytes]]:
    return [(name, expect, build()) for name, expect, build in CORPUS]
