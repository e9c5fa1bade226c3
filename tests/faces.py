"""Where the test photos are.

``../shared/faces`` next to the repository when present (photos from the face_recognition project's tests and
examples; file names say who). Otherwise the ``tests/test_images`` folder of the face_recognition 1.3.0 source
distribution, which ``scripts/fetch_test_faces.py`` downloads into a cache directory; it holds only obama x5,
biden and 32bit.png, under their short names, so tests that need other photos skip.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FACES = REPO_ROOT.parent / "shared" / "faces"
CACHE_FACES = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "emon"
    / "face_recognition-1.3.0"
    / "tests"
    / "test_images"
)

#: Short name -> file name in the shared folder; the sdist cache uses the short name itself.
SHARED_NAMES = {
    "obama.jpg": "tests_test_images_obama.jpg",
    "obama2.jpg": "tests_test_images_obama2.jpg",
    "obama3.jpg": "tests_test_images_obama3.jpg",
    "obama_partial_face.jpg": "tests_test_images_obama_partial_face.jpg",
    "obama_partial_face2.jpg": "tests_test_images_obama_partial_face2.jpg",
    "biden.jpg": "tests_test_images_biden.jpg",
    "32bit.png": "tests_test_images_32bit.png",
}


def shared_faces_dir() -> Path | None:
    return SHARED_FACES if SHARED_FACES.is_dir() else None


def faces_dir() -> Path | None:
    """The shared folder, else the filled cache, else None."""
    if SHARED_FACES.is_dir():
        return SHARED_FACES
    if (CACHE_FACES / "obama.jpg").is_file():
        return CACHE_FACES
    return None


def face_path(name: str) -> Path | None:
    """A photo by short name (``obama.jpg``) or shared file name; None when not available here."""
    shared = shared_faces_dir()
    if shared is not None:
        candidate = shared / SHARED_NAMES.get(name, name)
        return candidate if candidate.is_file() else None
    if (CACHE_FACES / name).is_file():
        return CACHE_FACES / name
    return None
