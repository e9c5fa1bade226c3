"""Liveness: a challenge derived from the server nonce, judged from landmark movement over a burst of frames.

The turn and nod bursts are synthetic (a local warp that moves the nose relative to the eyes, see
``synthetic.py``): they show the judgement reads the real detector's landmarks in the right direction, not
that a real head turn of a real wearer passes. The two-photo case is a plausibility check with two real,
different photos of the same man whose head is angled differently.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable

import numpy as np
import pytest

from biometrics.liveness import ChallengeKind, available_challenges, derive_challenge, judge
from biometrics.pipeline import analyse_image, verify_checkin
from biometrics.policy import DEFAULT_POLICY, BiometricPolicy
from biometrics.schemas import Challenge, Decision, ImageAnalysis, Reason
from tests.biometrics.conftest import encode_image
from tests.biometrics.synthetic import warped

Analyse = Callable[[str], ImageAnalysis]
Pixels = Callable[[str], np.ndarray]
NONCE = bytes(range(32))


def challenge(kind: ChallengeKind) -> Challenge:
    return Challenge(kind=kind.value, nonce_sha256="0" * 64)


@pytest.fixture(scope="module")
def turn_burst(analysed: Analyse, analysis_rgb: Pixels) -> list[bytes]:
    """Looking at the camera, then the nose moving towards the image's right (the wearer's left)."""
    rgb = analysis_rgb("obama.jpg")
    still = analyse_image(encode_image(rgb, quality=95))
    return [encode_image(rgb, quality=95)] + [encode_image(warped(rgb, still, dx), quality=95) for dx in (0.15, 0.3)]


def test_the_challenge_is_derived_from_the_nonce_deterministically() -> None:
    assert derive_challenge(NONCE, DEFAULT_POLICY) == derive_challenge(NONCE, DEFAULT_POLICY)
    assert (
        derive_challenge(NONCE, DEFAULT_POLICY).nonce_sha256 != derive_challenge(b"x" * 32, DEFAULT_POLICY).nonce_sha256
    )


def test_a_server_key_changes_the_challenge_mapping() -> None:
    kinds = {derive_challenge(os.urandom(32), DEFAULT_POLICY, key=b"k" * 32).kind for _ in range(60)}
    assert kinds == {kind.value for kind in available_challenges(DEFAULT_POLICY)}


def test_challenges_are_spread_over_every_allowed_kind_and_blink_needs_the_68_point_model() -> None:
    counts = collections.Counter(derive_challenge(os.urandom(32), DEFAULT_POLICY).kind for _ in range(600))
    assert set(counts) == {"TURN_LEFT", "TURN_RIGHT", "NOD"}
    assert min(counts.values()) > 120
    with_blink = BiometricPolicy(use_68_point_model=True)
    assert ChallengeKind.BLINK in available_challenges(with_blink)


def test_a_short_nonce_is_refused() -> None:
    with pytest.raises(ValueError, match="nonce"):
        derive_challenge(b"short", DEFAULT_POLICY)


def test_the_same_frame_sent_twice_fails(analysed: Analyse) -> None:
    frame = analysed("obama.jpg")
    result = judge(challenge(ChallengeKind.TURN_LEFT), [frame, frame], DEFAULT_POLICY)
    assert not result.passed
    assert result.reasons == (Reason.LIVENESS_FAILED, Reason.LIVENESS_REPEATED_FRAME)


def test_a_still_picture_re_encoded_and_shifted_fails_for_lack_of_movement(analysis_rgb: Pixels) -> None:
    rgb = analysis_rgb("obama.jpg")
    frames = [
        analyse_image(encode_image(rgb, quality=95)),
        analyse_image(encode_image(np.roll(rgb, 8, axis=1), quality=80)),  # a photo moved in front of the camera
        analyse_image(encode_image(np.roll(rgb, -5, axis=0), quality=90)),
    ]
    result = judge(challenge(ChallengeKind.TURN_LEFT), frames, DEFAULT_POLICY)
    assert not result.passed
    assert Reason.LIVENESS_NO_MOVEMENT in result.reasons
    assert result.landmark_motion is not None
    assert result.landmark_motion < DEFAULT_POLICY.liveness.min_landmark_motion


def test_a_synthetic_turn_to_the_left_passes_turn_left(turn_burst: list[bytes]) -> None:
    frames = [analyse_image(frame, check_pose=index == 0) for index, frame in enumerate(turn_burst)]
    result = judge(challenge(ChallengeKind.TURN_LEFT), frames, DEFAULT_POLICY)
    assert result.passed, result
    assert result.yaw_change_deg is not None
    assert result.yaw_change_deg >= DEFAULT_POLICY.liveness.min_turn_deg


def test_the_same_turn_fails_turn_right_as_the_wrong_direction(turn_burst: list[bytes]) -> None:
    frames = [analyse_image(frame, check_pose=index == 0) for index, frame in enumerate(turn_burst)]
    result = judge(challenge(ChallengeKind.TURN_RIGHT), frames, DEFAULT_POLICY)
    assert not result.passed
    assert Reason.LIVENESS_WRONG_DIRECTION in result.reasons


def test_a_turn_fails_a_nod_challenge(turn_burst: list[bytes]) -> None:
    frames = [analyse_image(frame, check_pose=index == 0) for index, frame in enumerate(turn_burst)]
    result = judge(challenge(ChallengeKind.NOD), frames, DEFAULT_POLICY)
    assert not result.passed
    assert Reason.LIVENESS_INSUFFICIENT_MOVEMENT in result.reasons


def test_a_synthetic_nod_passes_nod(analysis_rgb: Pixels) -> None:
    rgb = analysis_rgb("obama.jpg")
    still = analyse_image(encode_image(rgb, quality=95))
    frames = [
        still,
        analyse_image(encode_image(warped(rgb, still, 0.0, dy=0.2), quality=95), check_pose=False),
    ]
    result = judge(challenge(ChallengeKind.NOD), frames, DEFAULT_POLICY)
    assert result.passed, result


def test_plausibility_two_real_photos_with_different_head_angles_read_as_a_turn(analysed: Analyse) -> None:
    # obama.jpg looks at the camera; in obama3.jpg his head is turned towards the image's right (his left).
    frames = [analysed("obama.jpg"), analysed("obama3.jpg")]
    assert judge(challenge(ChallengeKind.TURN_LEFT), frames, DEFAULT_POLICY).passed
    turned_the_other_way = judge(challenge(ChallengeKind.TURN_RIGHT), frames, DEFAULT_POLICY)
    assert Reason.LIVENESS_WRONG_DIRECTION in turned_the_other_way.reasons


def test_a_burst_that_changes_person_fails(analysed: Analyse) -> None:
    result = judge(challenge(ChallengeKind.TURN_LEFT), [analysed("obama.jpg"), analysed("biden.jpg")], DEFAULT_POLICY)
    assert Reason.LIVENESS_IDENTITY_CHANGED in result.reasons


def test_one_frame_is_not_a_burst(analysed: Analyse) -> None:
    result = judge(challenge(ChallengeKind.TURN_LEFT), [analysed("obama.jpg")], DEFAULT_POLICY)
    assert result.reasons == (Reason.LIVENESS_FAILED, Reason.LIVENESS_FRAME_COUNT)


def test_blink_cannot_be_judged_without_the_68_point_model(analysed: Analyse) -> None:
    frames = [analysed("obama.jpg"), analysed("obama2.jpg")]
    result = judge(challenge(ChallengeKind.BLINK), frames, DEFAULT_POLICY)
    assert Reason.LIVENESS_CHALLENGE_UNAVAILABLE in result.reasons


def test_a_live_matching_burst_is_verified_and_a_still_one_is_referred(
    analysed: Analyse, turn_burst: list[bytes], analysis_rgb: Pixels
) -> None:
    references = [analysed("obama2.jpg").encoding]
    turn_left = challenge(ChallengeKind.TURN_LEFT)
    live = verify_checkin(turn_burst, references, [], turn_left)  # type: ignore[arg-type]
    assert live.decision is Decision.VERIFIED, live.reasons
    assert live.liveness is not None
    assert live.liveness.passed
    rgb = analysis_rgb("obama.jpg")
    still = [encode_image(rgb, quality=95), encode_image(rgb, quality=85)]
    held_up = verify_checkin(still, references, [], turn_left)  # type: ignore[arg-type]
    assert held_up.decision is Decision.REFERRED
    assert Reason.LIVENESS_FAILED in held_up.reasons


def test_the_68_point_model_is_not_loaded_by_default(models_ready: None) -> None:
    from biometrics import engine

    assert engine.models(False).shape_68 is None


def test_with_the_68_point_model_enabled_frames_carry_an_eye_aspect_ratio(
    photo_bytes: Callable[[str], bytes],
) -> None:
    policy = BiometricPolicy(use_68_point_model=True)
    analysis = analyse_image(photo_bytes("obama.jpg"), policy)
    assert analysis.measures is not None
    assert analysis.measures.eye_aspect_ratio is not None
    assert 0.15 < analysis.measures.eye_aspect_ratio < 0.45  # open eyes


def _with_ear(analysis: ImageAnalysis, ear: float, shift: float, sha: str) -> ImageAnalysis:
    import msgspec

    assert analysis.measures is not None
    assert analysis.encoding is not None
    measures = msgspec.structs.replace(analysis.measures, eye_aspect_ratio=ear)
    encoding = analysis.encoding + shift  # a slightly different frame
    return msgspec.structs.replace(analysis, measures=measures, sha256=sha, encoding=encoding)


def test_a_blink_is_judged_from_the_drop_of_the_eye_aspect_ratio(analysed: Analyse) -> None:
    # Measures constructed by hand: this checks the arithmetic of the judgement, not the 68-point model.
    policy = BiometricPolicy(use_68_point_model=True)
    open_eyes = _with_ear(analysed("obama.jpg"), 0.30, 0.0, "a")
    closed = _with_ear(analysed("obama.jpg"), 0.15, 0.002, "b")  # the head itself stays still
    half = _with_ear(analysed("obama.jpg"), 0.27, 0.003, "c")
    assert judge(challenge(ChallengeKind.BLINK), [open_eyes, closed], policy).passed
    failed = judge(challenge(ChallengeKind.BLINK), [open_eyes, half], policy)
    assert Reason.LIVENESS_INSUFFICIENT_MOVEMENT in failed.reasons
