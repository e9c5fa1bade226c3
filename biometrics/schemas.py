"""Results returned by the pipeline: msgspec Structs, picklable, safe to send between worker processes.

``encoding`` fields hold the 128-d template as a float64 numpy array; they are for the caller to encrypt and
store (see :mod:`biometrics.templates`) and must never be logged. :func:`to_loggable` strips them.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec
import numpy as np


class Reason(enum.StrEnum):
    # decoding (same values as DecodeReason)
    EMPTY = "EMPTY"
    TOO_LARGE_BYTES = "TOO_LARGE_BYTES"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    TOO_MANY_PIXELS = "TOO_MANY_PIXELS"
    ANIMATED = "ANIMATED"
    TRUNCATED = "TRUNCATED"
    CORRUPT = "CORRUPT"
    # quality
    NO_FACE = "NO_FACE"
    MULTIPLE_FACES = "MULTIPLE_FACES"
    FACE_TOO_SMALL = "FACE_TOO_SMALL"
    POSE_OUT_OF_RANGE = "POSE_OUT_OF_RANGE"
    TOO_BLURRED = "TOO_BLURRED"
    BAD_EXPOSURE = "BAD_EXPOSURE"
    FACE_AT_EDGE = "FACE_AT_EDGE"
    # matching
    NO_REFERENCES = "NO_REFERENCES"
    NO_MATCH = "NO_MATCH"
    DISTANCE_IN_REFER_BAND = "DISTANCE_IN_REFER_BAND"
    SUSPECTED_REPLAY = "SUSPECTED_REPLAY"
    # liveness
    LIVENESS_FAILED = "LIVENESS_FAILED"
    LIVENESS_FRAME_COUNT = "LIVENESS_FRAME_COUNT"
    LIVENESS_FRAME_UNUSABLE = "LIVENESS_FRAME_UNUSABLE"
    LIVENESS_REPEATED_FRAME = "LIVENESS_REPEATED_FRAME"
    LIVENESS_NO_MOVEMENT = "LIVENESS_NO_MOVEMENT"
    LIVENESS_WRONG_DIRECTION = "LIVENESS_WRONG_DIRECTION"
    LIVENESS_INSUFFICIENT_MOVEMENT = "LIVENESS_INSUFFICIENT_MOVEMENT"
    LIVENESS_IDENTITY_CHANGED = "LIVENESS_IDENTITY_CHANGED"
    LIVENESS_CHALLENGE_UNAVAILABLE = "LIVENESS_CHALLENGE_UNAVAILABLE"


#: Reasons that mean "take the picture again" rather than anything about identity.
CAPTURE_REASONS = frozenset(
    {
        Reason.EMPTY,
        Reason.TOO_LARGE_BYTES,
        Reason.UNSUPPORTED_TYPE,
        Reason.TOO_MANY_PIXELS,
        Reason.ANIMATED,
        Reason.TRUNCATED,
        Reason.CORRUPT,
        Reason.NO_FACE,
        Reason.MULTIPLE_FACES,
        Reason.FACE_TOO_SMALL,
        Reason.POSE_OUT_OF_RANGE,
        Reason.TOO_BLURRED,
        Reason.BAD_EXPOSURE,
        Reason.FACE_AT_EDGE,
    }
)


class Band(enum.StrEnum):
    ACCEPT = "ACCEPT"
    REFER = "REFER"
    REJECT = "REJECT"


class Decision(enum.StrEnum):
    VERIFIED = "VERIFIED"
    REFERRED = "REFERRED"
    REJECTED = "REJECTED"


class FaceMeasures(msgspec.Struct, frozen=True, kw_only=True):
    """Measurements of the one face in an image, in analysis pixels (after downscaling)."""

    box: tuple[int, int, int, int]  # left, top, right, bottom (may extend beyond the frame)
    landmarks: tuple[tuple[float, float], ...]  # dlib 5-point: two corners of each eye, base of nose
    inter_eye_px: float
    yaw_deg: float  # estimate; positive = the wearer's left (nose towards the image's right)
    roll_deg: float
    nose_drop: float  # vertical nose offset / inter-eye distance: a pitch proxy for NOD challenges
    sharpness: float  # Laplacian variance of the grey 150x150 aligned crop
    mean_brightness: float
    clipped_share: float
    box_outside_share: float
    eye_aspect_ratio: float | None = None  # only when the 68-point model is enabled


class ImageAnalysis(msgspec.Struct, frozen=True, kw_only=True):
    sha256: str
    format: str | None = None
    original_size: tuple[int, int] | None = None
    analysed_size: tuple[int, int] | None = None
    face_count: int = 0
    measures: FaceMeasures | None = None
    reasons: tuple[Reason, ...] = ()
    encoding: np.ndarray | None = None

    @property
    def usable(self) -> bool:
        return not self.reasons and self.encoding is not None


class Provenance(msgspec.Struct, frozen=True, kw_only=True):
    policy_version: str
    model_id: str
    template_version: int
    libraries: dict[str, str]


class EnrolmentResult(msgspec.Struct, frozen=True, kw_only=True):
    accepted: bool
    reasons: tuple[Reason, ...]
    analysis: ImageAnalysis
    encoding: np.ndarray | None
    provenance: Provenance


class Challenge(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # a ChallengeKind value
    nonce_sha256: str  # which server nonce it was derived from, for the audit record


class LivenessResult(msgspec.Struct, frozen=True, kw_only=True):
    challenge: str
    passed: bool
    reasons: tuple[Reason, ...]
    frame_count: int
    yaw_change_deg: float | None = None  # signed change in the asked direction (positive = as asked)
    nod_change: float | None = None
    blink_drop: float | None = None
    landmark_motion: float | None = None
    min_frame_distance: float | None = None
    max_identity_distance: float | None = None


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    decision: Decision
    reasons: tuple[Reason, ...]
    retry_advised: bool
    distance: float | None
    band: Band | None
    best_reference: int | None
    replay_distance: float | None
    image_sha256: tuple[str, ...]
    probe: ImageAnalysis | None
    frames: tuple[ImageAnalysis, ...]
    liveness: LivenessResult | None
    accept_distance: float
    refer_distance: float
    provenance: Provenance

    @property
    def probe_encoding(self) -> np.ndarray | None:
        """The first frame's template: store it (encrypted) for later replay checks."""
        return None if self.probe is None else self.probe.encoding


def _strip(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return {field: _strip(getattr(value, field)) for field in value.__struct_fields__ if field != "encoding"}
    if isinstance(value, tuple | list):
        return [_strip(item) for item in value]
    if isinstance(value, dict):
        return {key: _strip(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        raise TypeError("refusing to log an array")
    if isinstance(value, np.floating | np.integer):
        return value.item()
    return value


def to_loggable(result: msgspec.Struct) -> dict[str, Any]:
    """A plain dict for audit records and JSON output, with every template removed."""
    return _strip(result)
