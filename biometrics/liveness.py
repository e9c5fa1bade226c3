"""Challenge-response liveness over a short burst of frames.

The server issues a random nonce per check-in prompt; the challenge (turn left, turn right, nod, and blink
only when the 68-point model is enabled) is derived from it with HMAC-SHA256, so the device cannot choose an
easy one and the server can recompute it at verification. The wearer answers with 2-5 frames, the first
looking at the camera. Directions are those of the wearer in the picture as the camera took it (not a mirrored
preview): TURN_LEFT means the wearer turns to their own left, so the nose moves towards the right of the
image.

The judgement uses landmark geometry only: the yaw estimate from the 5-point landmarks for turns, the vertical
nose offset for nods, and the eye aspect ratio for blinks. Identical frames (same SHA-256), near-identical
encodings and landmarks that do not move are refused; every frame must show the same person as the first. See
``biometrics/README.md`` for what this does and does not stop.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence

import numpy as np

from biometrics.matching import distances
from biometrics.policy import BiometricPolicy
from biometrics.quality import normalised_landmarks
from biometrics.schemas import Challenge, ImageAnalysis, LivenessResult, Reason

_CONTEXT = b"emon.biometrics.challenge.v1|"


class ChallengeKind(enum.StrEnum):
    TURN_LEFT = "TURN_LEFT"
    TURN_RIGHT = "TURN_RIGHT"
    NOD = "NOD"
    BLINK = "BLINK"


def available_challenges(policy: BiometricPolicy) -> tuple[ChallengeKind, ...]:
    kinds = (ChallengeKind.TURN_LEFT, ChallengeKind.TURN_RIGHT, ChallengeKind.NOD)
    return (*kinds, ChallengeKind.BLINK) if policy.use_68_point_model else kinds


def derive_challenge(nonce: bytes, policy: BiometricPolicy, key: bytes = b"") -> Challenge:
    """The challenge for a server nonce: deterministic, uniform over the kinds the policy allows.

    ``key`` is an optional server secret, so the challenge cannot be predicted from the nonce alone.
    """
    if len(nonce) < 16:
        raise ValueError("the nonce must be at least 16 random bytes")
    digest = hmac.new(key or _CONTEXT, _CONTEXT + nonce, hashlib.sha256).digest()
    kinds = available_challenges(policy)
    kind = kinds[int.from_bytes(digest[:8], "big") % len(kinds)]
    return Challenge(kind=kind.value, nonce_sha256=hashlib.sha256(nonce).hexdigest())


def judge(challenge: Challenge, frames: Sequence[ImageAnalysis], policy: BiometricPolicy) -> LivenessResult:
    limits = policy.liveness
    kind = ChallengeKind(challenge.kind)
    count = len(frames)

    def fail(*reasons: Reason, **measures: float | None) -> LivenessResult:
        return LivenessResult(
            challenge=kind.value,
            passed=False,
            reasons=(Reason.LIVENESS_FAILED, *reasons),
            frame_count=count,
            **measures,
        )

    if not limits.min_frames <= count <= limits.max_frames:
        return fail(Reason.LIVENESS_FRAME_COUNT)
    if kind is ChallengeKind.BLINK and not policy.use_68_point_model:
        return fail(Reason.LIVENESS_CHALLENGE_UNAVAILABLE)
    encodings = [frame.encoding for frame in frames if frame.encoding is not None]
    observed = [frame.measures for frame in frames if frame.measures is not None]
    if len(encodings) != count or len(observed) != count or any(frame.face_count != 1 for frame in frames):
        return fail(Reason.LIVENESS_FRAME_UNUSABLE)
    if len({frame.sha256 for frame in frames}) != count:
        return fail(Reason.LIVENESS_REPEATED_FRAME)

    min_frame_distance = round(
        min(float(distances(encodings[i], encodings[i + 1 :]).min()) for i in range(count - 1)), 4
    )
    identity = round(float(distances(encodings[0], encodings[1:]).max()), 4)
    shapes = [normalised_landmarks(np.asarray(m.landmarks)) for m in observed]
    # The largest move of any landmark relative to the eyes: translation, scale and roll are factored out, so
    # a photo slid or tilted in front of the camera does not count as movement.
    motion = round(max(float(np.linalg.norm(shape - shapes[0], axis=1).max()) for shape in shapes[1:]), 4)
    measures: dict[str, float | None] = {
        "landmark_motion": motion,
        "min_frame_distance": min_frame_distance,
        "max_identity_distance": identity,
    }
    if min_frame_distance < limits.min_frame_distance:
        return fail(Reason.LIVENESS_REPEATED_FRAME, **measures)
    if identity > limits.max_intra_burst_distance:
        return fail(Reason.LIVENESS_IDENTITY_CHANGED, **measures)
    if motion < limits.min_landmark_motion and kind is not ChallengeKind.BLINK:
        # A blink barely moves the 5-point landmarks (eye corners, nose): its evidence is the eye ratio.
        return fail(Reason.LIVENESS_NO_MOVEMENT, **measures)

    first, rest = observed[0], observed[1:]
    if kind in (ChallengeKind.TURN_LEFT, ChallengeKind.TURN_RIGHT):
        sign = 1.0 if kind is ChallengeKind.TURN_LEFT else -1.0
        changes = [sign * (m.yaw_deg - first.yaw_deg) for m in rest]
        best, worst = max(changes), min(changes)
        measures["yaw_change_deg"] = round(best if best >= -worst else worst, 2)
        if best >= limits.min_turn_deg:
            return _passed(kind, count, measures)
        if worst <= -limits.min_turn_deg:
            return fail(Reason.LIVENESS_WRONG_DIRECTION, **measures)
        return fail(Reason.LIVENESS_INSUFFICIENT_MOVEMENT, **measures)
    if kind is ChallengeKind.NOD:
        change = max(abs(m.nose_drop - first.nose_drop) for m in rest)
        measures["nod_change"] = round(change, 4)
        if change >= limits.min_nod_ratio:
            return _passed(kind, count, measures)
        return fail(Reason.LIVENESS_INSUFFICIENT_MOVEMENT, **measures)
    # BLINK
    ears = [m.eye_aspect_ratio for m in observed if m.eye_aspect_ratio is not None]
    if len(ears) != count or not ears[0]:
        return fail(Reason.LIVENESS_FRAME_UNUSABLE, **measures)
    drop = 1.0 - min(ears[1:]) / ears[0]
    measures["blink_drop"] = round(drop, 4)
    if drop >= limits.min_blink_drop:
        return _passed(kind, count, measures)
    return fail(Reason.LIVENESS_INSUFFICIENT_MOVEMENT, **measures)


def _passed(kind: ChallengeKind, count: int, measures: dict[str, float | None]) -> LivenessResult:
    return LivenessResult(challenge=kind.value, passed=True, reasons=(), frame_count=count, **measures)
