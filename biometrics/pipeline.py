"""The top-level API, built to run in worker processes.

Every function here is module-level, takes and returns picklable values (bytes, numpy arrays, msgspec Structs)
and does no I/O. Use :func:`warm_up` as the pool initializer so the models load once per worker, not on the
first check-in::

    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn"), initializer=warm_up) as pool:
        verification = pool.submit(verify_checkin, frames, references, previous, challenge, policy).result()

Nothing here logs an image or a template.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgspec
import numpy as np

from biometrics import engine, liveness, matching, quality
from biometrics.decode import DecodeError, decode_image
from biometrics.policy import DEFAULT_POLICY, BiometricPolicy
from biometrics.schemas import (
    CAPTURE_REASONS,
    Band,
    Challenge,
    Decision,
    EnrolmentResult,
    ImageAnalysis,
    LivenessResult,
    Provenance,
    Reason,
    Verification,
)
from biometrics.templates import TEMPLATE_VERSION


def warm_up(policy: BiometricPolicy = DEFAULT_POLICY) -> None:
    """Import dlib, load the models the policy needs and run them once (pool initializer)."""
    m = engine.models(policy.use_68_point_model)
    m.detector(np.zeros((64, 64, 3), dtype=np.uint8), 0)
    engine.library_versions()


def provenance(policy: BiometricPolicy = DEFAULT_POLICY) -> Provenance:
    return Provenance(
        policy_version=policy.version,
        model_id=engine.MODEL_ID,
        template_version=TEMPLATE_VERSION,
        libraries=dict(engine.library_versions()),
    )


def analyse_image(
    image_bytes: bytes, policy: BiometricPolicy = DEFAULT_POLICY, *, check_pose: bool = True
) -> ImageAnalysis:
    """Decode, detect, measure and encode one image. Never raises for a bad upload: see ``reasons``."""
    try:
        decoded = decode_image(image_bytes, policy.decode)
    except DecodeError as exc:
        return ImageAnalysis(sha256=hashlib.sha256(image_bytes).hexdigest(), reasons=(Reason(exc.reason.value),))
    m = engine.models(policy.use_68_point_model)
    rgb = decoded.rgb
    faces = engine.detect(m, rgb, policy.upsample, policy.upsample_retry)
    found = ImageAnalysis(
        sha256=decoded.sha256,
        format=decoded.format,
        original_size=(decoded.original_width, decoded.original_height),
        analysed_size=(rgb.shape[1], rgb.shape[0]),
        face_count=len(faces),
    )
    if not faces:
        return msgspec.structs.replace(found, reasons=(Reason.NO_FACE,))
    if len(faces) > 1:
        return msgspec.structs.replace(found, reasons=(Reason.MULTIPLE_FACES,))
    face = faces[0]
    ear = None
    if policy.use_68_point_model:
        ear = quality.eye_aspect_ratio(engine.landmarks_68(m, rgb, face))
    measures = quality.measure(face.landmarks, face.box, rgb.shape, engine.face_chip(m, rgb, face), ear)
    reasons = quality.gate(measures, policy.quality, check_pose=check_pose)
    encoding = engine.encode(m, rgb, face)
    return msgspec.structs.replace(found, measures=measures, reasons=reasons, encoding=encoding)


def analyse_enrolment(image_bytes: bytes, policy: BiometricPolicy = DEFAULT_POLICY) -> EnrolmentResult:
    """Quality-check an enrolment photo and return its template when it passes every gate."""
    analysis = analyse_image(image_bytes, policy)
    accepted = analysis.usable
    return EnrolmentResult(
        accepted=accepted,
        reasons=analysis.reasons,
        analysis=analysis,
        encoding=analysis.encoding if accepted else None,
        provenance=provenance(policy),
    )


def verify_checkin(
    frames: Sequence[bytes],
    references: Sequence[np.ndarray],
    previous: Sequence[tuple[str, np.ndarray]],
    challenge: Challenge | None,
    policy: BiometricPolicy = DEFAULT_POLICY,
) -> Verification:
    """Verify a check-in burst against a wearer's references.

    ``frames``: the burst, first frame looking at the camera (it is the probe). ``references``: decrypted
    enrolment templates. ``previous``: (image SHA-256, template) of this wearer's earlier check-ins, for the
    replay check. ``challenge``: the one derived from this prompt's nonce (``liveness.derive_challenge``);
    None skips liveness (a single-photo check-in), which the result records.

    REJECTED: unusable probe (retry advised) or no match. REFERRED: refer band, suspected replay or failed
    liveness.
    VERIFIED: accept band, live, not a replay.
    """
    refs = list(references)[: policy.max_references]
    if any(np.shape(reference) != (128,) for reference in refs):
        raise ValueError("references must be 128-d face templates")
    analyses: tuple[ImageAnalysis, ...] = ()

    def result(
        decision: Decision,
        reasons: Sequence[Reason],
        *,
        distance: float | None = None,
        best: int | None = None,
        replay: float | None = None,
        live: LivenessResult | None = None,
    ) -> Verification:
        return Verification(
            decision=decision,
            reasons=tuple(dict.fromkeys(reasons)),
            retry_advised=any(reason in CAPTURE_REASONS for reason in reasons),
            distance=None if distance is None else round(distance, 4),
            band=None if distance is None else matching.band(distance, policy),
            best_reference=best,
            replay_distance=None if replay is None else round(replay, 4),
            image_sha256=tuple(a.sha256 for a in analyses),
            probe=analyses[0] if analyses else None,
            frames=analyses,
            liveness=live,
            accept_distance=policy.accept_distance,
            refer_distance=policy.refer_distance,
            provenance=provenance(policy),
        )

    # Both checked before any decoding, so a wrong request costs nothing.
    if not refs:
        return result(Decision.REJECTED, [Reason.NO_REFERENCES])
    if not 1 <= len(frames) <= policy.liveness.max_frames:
        return result(Decision.REJECTED, [Reason.LIVENESS_FRAME_COUNT])
    analyses = tuple(analyse_image(frame, policy, check_pose=index == 0) for index, frame in enumerate(frames))
    hashes = {a.sha256 for a in analyses}
    probe = analyses[0]
    if not probe.usable:
        return result(Decision.REJECTED, probe.reasons)
    assert probe.encoding is not None
    distance, best = matching.best_match(probe.encoding, refs)
    band = matching.band(distance, policy)
    if band is Band.REJECT:
        return result(Decision.REJECTED, [Reason.NO_MATCH], distance=distance, best=best)

    reasons: list[Reason] = []
    earlier = [template for _, template in previous]
    if policy.replay_check_references:
        earlier += refs
    replay = matching.replay_distance(probe.encoding, earlier)
    earlier_hashes = {sha for sha, _ in previous}
    if (replay is not None and replay < policy.replay_distance) or not hashes.isdisjoint(earlier_hashes):
        reasons.append(Reason.SUSPECTED_REPLAY)
    live = liveness.judge(challenge, analyses, policy) if challenge is not None else None
    if live is not None and not live.passed:
        reasons.extend(live.reasons)
    if band is Band.REFER:
        reasons.append(Reason.DISTANCE_IN_REFER_BAND)
    decision = Decision.REFERRED if reasons else Decision.VERIFIED
    return result(decision, reasons, distance=distance, best=best, replay=replay, live=live)
