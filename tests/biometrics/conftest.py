"""Fixtures for the biometrics specifications: test photos, each analysed once per session, and image
makers."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from biometrics.pipeline import analyse_image, warm_up
from biometrics.policy import DEFAULT_POLICY
from biometrics.schemas import ImageAnalysis
from tests.faces import face_path


def photo_path(name: str) -> Path:
    """A test photo by name, or skip the test when this machine does not have it."""
    path = face_path(name)
    if path is None:
        pytest.skip(f"test photo {name} not available (run scripts/fetch_test_faces.py)")
    return path


def encode_image(array: np.ndarray, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def models_ready() -> None:
    warm_up(DEFAULT_POLICY)


@pytest.fixture(scope="session")
def photo_bytes() -> Callable[[str], bytes]:
    cache: dict[str, bytes] = {}

    def read(name: str) -> bytes:
        if name not in cache:
            cache[name] = photo_path(name).read_bytes()
        return cache[name]

    return read


@pytest.fixture(scope="session")
def analysed(models_ready: None, photo_bytes: Callable[[str], bytes]) -> Callable[[str], ImageAnalysis]:
    """Analyse each test photo once per session."""
    cache: dict[str, ImageAnalysis] = {}

    def analyse(name: str) -> ImageAnalysis:
        if name not in cache:
            cache[name] = analyse_image(photo_bytes(name), DEFAULT_POLICY)
        return cache[name]

    return analyse


@pytest.fixture(scope="session")
def analysis_rgb(photo_bytes: Callable[[str], bytes]) -> Callable[[str], np.ndarray]:
    """The decoded, downscaled pixels a photo is analysed at (landmarks refer to these)."""
    from biometrics.decode import decode_image

    def rgb(name: str) -> np.ndarray:
        return decode_image(photo_bytes(name), DEFAULT_POLICY.decode).rgb

    return rgb
