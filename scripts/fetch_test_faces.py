"""Fetch the face_recognition 1.3.0 test photos into the test cache when ../shared/faces is absent.

Runs ``python -m pip download --no-deps --no-binary :all: face_recognition==1.3.0`` into a temporary
folder and extracts ``tests/test_images/`` from the source distribution to
``~/.cache/emon/face_recognition-1.3.0/tests/test_images`` (or under ``$XDG_CACHE_HOME``).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faces import CACHE_FACES

MEMBER_PREFIX = "tests/test_images/"


def _python_with_pip() -> str:
    """This interpreter when it has pip (uv-made virtual environments do not), else python3 on the PATH."""
    if importlib.util.find_spec("pip") is not None:
        return sys.executable
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("no Python interpreter with pip found")


def fetch(destination: Path = CACHE_FACES) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(  # noqa: S603  (fixed arguments)
            [
                _python_with_pip(),
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "face_recognition==1.3.0",
                "-d",
                tmp,
            ],
            check=True,
        )
        archives = sorted(Path(tmp).glob("face_recognition-1.3.0.tar.gz")) + sorted(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise SystemExit("pip did not download a face_recognition source distribution")
        staging = Path(tmp) / "extract"
        staging.mkdir()
        with tarfile.open(archives[0]) as archive:
            for member in archive.getmembers():
                # face_recognition-1.3.0/tests/test_images/<file>
                parts = member.name.split("/", 1)
                if len(parts) != 2 or not parts[1].startswith(MEMBER_PREFIX) or not member.isfile():
                    continue
                name = Path(parts[1]).name
                if not name or name.startswith("."):
                    continue
                source = archive.extractfile(member)
                if source is None:
                    continue
                (staging / name).write_bytes(source.read())
        if not any(staging.iterdir()):
            raise SystemExit("the source distribution holds no tests/test_images/")
        destination.mkdir(parents=True, exist_ok=True)
        for item in staging.iterdir():
            shutil.copyfile(item, destination / item.name)
    return destination


if __name__ == "__main__":
    from tests.faces import faces_dir

    # --if-missing: do nothing when the shared photos or a filled cache are already there (make test calls this).
    present = faces_dir()
    if "--if-missing" in sys.argv[1:] and present is not None:
        print(f"test photos: {present}")
    else:
        print(f"test photos: {fetch()}")
