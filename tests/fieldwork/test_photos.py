"""Evidence photos: the type is sniffed from the content, the size capped, the address checked, the bytes
encrypted at rest."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from tests.fieldwork.conftest import Cast, Client, jpeg_bytes, sha


async def test_text_posing_as_a_jpeg_is_refused(client: Client, cast: Cast) -> None:
    fake = b"<html><script>alert(1)</script></html>"
    response = await client.put(
        f"/api/v1/photos/{sha(fake)}", content=fake, headers={**cast.officer.headers, "Content-Type": "image/jpeg"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not-an-image"


async def test_a_png_declared_as_jpeg_and_a_wrong_hash_are_refused(client: Client, cast: Cast) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    mismatch = await client.put(
        f"/api/v1/photos/{sha(png)}", content=png, headers={**cast.officer.headers, "Content-Type": "image/jpeg"}
    )
    assert mismatch.status_code == 415
    photo = jpeg_bytes()
    wrong = await client.put(f"/api/v1/photos/{'0' * 64}", content=photo, headers=cast.officer.headers)
    assert wrong.status_code == 422


async def test_oversized_photos_are_refused(client: Client, cast: Cast, settings_for, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    small = settings_for(EMON_HTTP_MAX_IMAGE_BYTES="100", EMON_FIELDWORK_PHOTO_DIR=str(tmp_path))
    photo = jpeg_bytes()
    async with AsyncTestClient(create_app(small), base_url="http://testserver.local") as small_client:
        response = await small_client.put(f"/api/v1/photos/{sha(photo)}", content=photo, headers=cast.officer.headers)
    assert response.status_code == 413


async def test_photos_are_stored_encrypted_by_content_address(client: Client, cast: Cast, settings: Settings) -> None:
    photo = jpeg_bytes(3)
    first = await client.put(f"/api/v1/photos/{sha(photo)}", content=photo, headers=cast.officer.headers)
    again = await client.put(f"/api/v1/photos/{sha(photo)}", content=photo, headers=cast.officer.headers)
    assert (first.json()["created"], again.json()["created"]) == (True, False)
    stored = Path(settings.fieldwork.photo_dir) / sha(photo)[:2] / sha(photo)
    assert stored.exists()
    assert photo not in stored.read_bytes()
    assert not stored.read_bytes()[4:].startswith(b"\xff\xd8")
