"""dlib models: HOG face detector, 5-point landmarks, ResNet face encoder (and, optionally, 68-point
landmarks).

These are the models ``face_recognition`` 1.3.0 uses, loaded from the ``face_recognition_models`` files and
driven through dlib directly, computing exactly what ``face_recognition.face_locations(model="hog")`` and
``face_recognition.face_encodings(model="small", num_jitters=1)`` compute. ``face_recognition`` itself is not
imported because its import (a) sets ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True`` for the whole process,
(b) loads the 68-point and CNN models whatever the policy says (about 120 MB more per worker), and (c) calls
``quit()`` when ``face_recognition_models`` cannot be imported.

Licence: the 5-point landmark model, the encoder and the HOG detector are public domain; the 68-point landmark
model was trained on iBUG 300-W, whose owners forbid commercial use. It is loaded only when a policy sets
``use_68_point_model`` (used for BLINK challenges only) and never by default.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
import warnings
from typing import Any

import numpy as np

MODEL_ID = "dlib_face_recognition_resnet_model_v1/shape_predictor_5_face_landmarks"
CHIP_SIZE = 150

_lock = threading.Lock()


def _models_module() -> Any:
    try:
        with warnings.catch_warnings():
            # Its own pkg_resources import warns on every start; the pinned setuptools keeps it working.
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import face_recognition_models
    except Exception as exc:  # face_recognition_models fails with ImportError or pkg_resources errors
        raise ImportError(
            "face_recognition_models could not be imported (is setuptools<82 installed for pkg_resources?)"
        ) from exc
    return face_recognition_models


class Models:
    """The loaded dlib models; build with :func:`models`."""

    def __init__(self, with_68_point: bool) -> None:
        import dlib

        frm = _models_module()
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape_5 = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self.shape_68 = dlib.shape_predictor(frm.pose_predictor_model_location()) if with_68_point else None


@functools.cache
def _load(with_68_point: bool) -> Models:
    return Models(with_68_point)


def models(with_68_point: bool = False) -> Models:
    with _lock:
        return _load(with_68_point)


@functools.cache
def library_versions() -> dict[str, str]:
    """Installed distribution versions (``face_recognition.__version__`` says 1.2.3 in the 1.3.0 wheel)."""
    versions: dict[str, str] = {}
    for dist in ("face-recognition", "face-recognition-models", "dlib-bin", "dlib", "numpy", "pillow"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


class Face:
    """One detected face with its 5-point landmarks (x, y in analysis pixels)."""

    def __init__(self, box: tuple[int, int, int, int], landmarks: np.ndarray, shape: Any) -> None:
        self.box = box  # left, top, right, bottom; may extend beyond the image
        self.landmarks = landmarks
        self.shape = shape


def detect(m: Models, rgb: np.ndarray, upsample: int, upsample_retry: int) -> list[Face]:
    rects = m.detector(rgb, upsample)
    if len(rects) == 0 and upsample_retry > upsample:
        rects = m.detector(rgb, upsample_retry)
    faces = []
    for rect in rects:
        shape = m.shape_5(rgb, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        faces.append(Face((rect.left(), rect.top(), rect.right(), rect.bottom()), points, shape))
    return faces


def encode(m: Models, rgb: np.ndarray, face: Face) -> np.ndarray:
    return np.array(m.encoder.compute_face_descriptor(rgb, face.shape, 1), dtype=np.float64)


def face_chip(m: Models, rgb: np.ndarray, face: Face) -> np.ndarray:
    return np.asarray(m.dlib.get_face_chip(rgb, face.shape, size=CHIP_SIZE))


def landmarks_68(m: Models, rgb: np.ndarray, face: Face) -> np.ndarray:
    if m.shape_68 is None:
        raise RuntimeError("the 68-point landmark model is disabled by policy")
    left, top, right, bottom = face.box
    shape = m.shape_68(rgb, m.dlib.rectangle(left, top, right, bottom))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
