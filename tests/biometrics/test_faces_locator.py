"""The test-photo locator: the shared folder if present, else the cache filled from the sdist, else none."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import faces


def test_without_the_shared_folder_the_filled_cache_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "test_images"
    cache.mkdir()
    (cache / "obama.jpg").write_bytes(b"\xff\xd8\xff")
    monkeypatch.setattr(faces, "SHARED_FACES", tmp_path / "absent")
    monkeypatch.setattr(faces, "CACHE_FACES", cache)
    assert faces.faces_dir() == cache
    assert faces.face_path("obama.jpg") == cache / "obama.jpg"
    assert faces.face_path("examples_two_people.jpg") is None  # shared-only photos: their tests skip


def test_with_neither_there_are_no_photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faces, "SHARED_FACES", tmp_path / "absent")
    monkeypatch.setattr(faces, "CACHE_FACES", tmp_path / "empty")
    assert faces.faces_dir() is None
    assert faces.face_path("obama.jpg") is None


def test_the_shared_folder_is_found_next_to_the_repository() -> None:
    assert faces.REPO_ROOT.parent / "shared" / "faces" == faces.SHARED_FACES
    if faces.shared_faces_dir() is None:
        pytest.skip("no shared folder on this machine")
    assert faces.face_path("obama.jpg") == faces.SHARED_FACES / "tests_test_images_obama.jpg"
