"""Check-in verification and enrolment on real photos: match bands, replay, quality gates."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFilter

from biometrics.decode import decode_image
from biometrics.pipeline import analyse_enrolment, analyse_image, verify_checkin
from biometrics.policy import DEFAULT_POLICY, BiometricPolicy
from biometrics.schemas import Band, Decision, ImageAnalysis, Reason, to_loggable
from tests.biometrics.conftest import encode_image

Analyse = Callable[[str], ImageAnalysis]
Read = Callable[[str], bytes]


def template(analysed: Analyse, name: str) -> np.ndarray:
    encoding = analysed(name).encoding
    assert encoding is not None
    return encoding


def test_obama_checking_in_against_a_different_obama_photo_is_verified(analysed: Analyse, photo_bytes: Read) -> None:
    result = verify_checkin([photo_bytes("obama2.jpg")], [template(analysed, "obama.jpg")], [], None)
    assert result.decision is Decision.VERIFIED
    assert result.reasons == ()
    assert result.band is Band.ACCEPT
    assert result.distance is not None
    assert 0.18 < result.distance <= DEFAULT_POLICY.accept_distance


def test_biden_checking_in_as_obama_is_rejected(analysed: Analyse, photo_bytes: Read) -> None:
    result = verify_checkin([photo_bytes("biden.jpg")], [template(analysed, "obama.jpg")], [], None)
    assert result.decision is Decision.REJECTED
    assert result.reasons == (Reason.NO_MATCH,)
    assert result.distance is not None
    assert result.distance > DEFAULT_POLICY.refer_distance
    assert not result.retry_advised


def test_the_closest_of_several_references_decides(analysed: Analyse, photo_bytes: Read) -> None:
    references = [template(analysed, "biden.jpg"), template(analysed, "obama.jpg")]
    result = verify_checkin([photo_bytes("obama2.jpg")], references, [], None)
    assert result.decision is Decision.VERIFIED
    assert result.best_reference == 1


def test_a_distance_in_the_refer_band_goes_to_a_caseworker(analysed: Analyse, photo_bytes: Read) -> None:
    distance = float(np.linalg.norm(template(analysed, "obama2.jpg") - template(analysed, "obama.jpg")))
    policy = BiometricPolicy(accept_distance=distance - 0.05, refer_distance=distance + 0.05)
    result = verify_checkin([photo_bytes("obama2.jpg")], [template(analysed, "obama.jpg")], [], None, policy)
    assert result.decision is Decision.REFERRED
    assert result.reasons == (Reason.DISTANCE_IN_REFER_BAND,)
    assert result.band is Band.REFER


def test_a_re_encoded_copy_of_an_earlier_check_in_is_a_suspected_replay(
    analysed: Analyse, analysis_rgb: Callable[[str], np.ndarray], photo_bytes: Read
) -> None:
    earlier = analysed("obama2.jpg")
    copy = encode_image(analysis_rgb("obama2.jpg"), quality=70)  # new bytes, same picture
    previous = [(earlier.sha256, template(analysed, "obama2.jpg"))]
    result = verify_checkin([copy], [template(analysed, "obama.jpg")], previous, None)
    assert result.decision is Decision.REFERRED
    assert Reason.SUSPECTED_REPLAY in result.reasons
    assert result.replay_distance is not None
    assert result.replay_distance < DEFAULT_POLICY.replay_distance


def test_the_same_image_bytes_as_an_earlier_check_in_are_a_suspected_replay(
    analysed: Analyse, photo_bytes: Read
) -> None:
    earlier = analysed("obama2.jpg")
    previous = [(earlier.sha256, np.zeros(128))]  # the hash alone is enough
    result = verify_checkin([photo_bytes("obama2.jpg")], [template(analysed, "obama.jpg")], previous, None)
    assert result.decision is Decision.REFERRED
    assert result.reasons == (Reason.SUSPECTED_REPLAY,)


def test_the_enrolment_photo_itself_presented_at_check_in_is_a_suspected_replay(
    analysed: Analyse, photo_bytes: Read
) -> None:
    result = verify_checkin([photo_bytes("obama.jpg")], [template(analysed, "obama.jpg")], [], None)
    assert result.decision is Decision.REFERRED
    assert result.reasons == (Reason.SUSPECTED_REPLAY,)


def test_a_genuine_different_photo_is_not_taken_for_a_replay(analysed: Analyse, photo_bytes: Read) -> None:
    previous = [(analysed("obama3.jpg").sha256, template(analysed, "obama3.jpg"))]
    result = verify_checkin([photo_bytes("obama2.jpg")], [template(analysed, "obama.jpg")], previous, None)
    assert result.decision is Decision.VERIFIED


def test_two_faces_are_multiple_faces(models_ready: None, photo_bytes: Read) -> None:
    analysis = analyse_image(photo_bytes("examples_two_people.jpg"))
    assert analysis.reasons == (Reason.MULTIPLE_FACES,)
    assert analysis.face_count == 2
    assert analysis.encoding is None


def test_a_check_in_with_two_faces_is_rejected_with_a_retry(analysed: Analyse, photo_bytes: Read) -> None:
    result = verify_checkin([photo_bytes("examples_two_people.jpg")], [template(analysed, "obama.jpg")], [], None)
    assert result.decision is Decision.REJECTED
    assert result.reasons == (Reason.MULTIPLE_FACES,)
    assert result.retry_advised


def test_a_picture_without_a_face_is_no_face(models_ready: None) -> None:
    blank = np.full((480, 640, 3), 127, np.uint8)
    assert analyse_image(encode_image(blank)).reasons == (Reason.NO_FACE,)


def test_an_undecodable_frame_carries_its_decode_reason(analysed: Analyse) -> None:
    result = verify_checkin([b""], [template(analysed, "obama.jpg")], [], None)
    assert result.decision is Decision.REJECTED
    assert result.reasons == (Reason.EMPTY,)
    assert result.retry_advised


def test_a_face_cut_by_the_frame_edge_is_refused(analysed: Analyse) -> None:
    assert Reason.FACE_AT_EDGE in analysed("obama_partial_face2.jpg").reasons


def test_a_blurred_photo_is_too_blurred(analysis_rgb: Callable[[str], np.ndarray]) -> None:
    blurred = Image.fromarray(analysis_rgb("obama2.jpg")).filter(ImageFilter.GaussianBlur(4))
    assert analyse_image(encode_image(np.asarray(blurred))).reasons == (Reason.TOO_BLURRED,)


@pytest.mark.parametrize("gain", [0.3, 3.0], ids=["dark", "burnt-out"])
def test_a_badly_exposed_photo_is_bad_exposure(analysis_rgb: Callable[[str], np.ndarray], gain: float) -> None:
    pixels = np.clip(analysis_rgb("obama2.jpg").astype(float) * gain, 0, 255).astype(np.uint8)
    assert Reason.BAD_EXPOSURE in analyse_image(encode_image(pixels)).reasons


def test_a_strongly_tilted_head_is_out_of_range(analysis_rgb: Callable[[str], np.ndarray]) -> None:
    tilted = Image.fromarray(analysis_rgb("obama.jpg")).rotate(35, fillcolor=(128, 128, 128))
    analysis = analyse_image(encode_image(np.asarray(tilted)))
    assert analysis.reasons == (Reason.POSE_OUT_OF_RANGE,)
    assert analysis.measures is not None
    assert abs(analysis.measures.roll_deg) > DEFAULT_POLICY.quality.max_roll_deg


def test_a_distant_face_is_too_small(analysis_rgb: Callable[[str], np.ndarray]) -> None:
    small = Image.fromarray(analysis_rgb("obama.jpg")).reduce(4)
    canvas = np.full((480, 640, 3), 120, np.uint8)
    canvas[100 : 100 + small.height, 100 : 100 + small.width] = np.asarray(small)
    assert Reason.FACE_TOO_SMALL in analyse_image(encode_image(canvas)).reasons


def test_enrolment_returns_a_template_only_for_a_photo_passing_every_gate(analysed: Analyse, photo_bytes: Read) -> None:
    good = analyse_enrolment(photo_bytes("obama.jpg"))
    assert good.accepted
    assert good.encoding is not None
    assert good.encoding.shape == (128,)
    assert good.provenance.libraries["face-recognition-models"] == "0.3.0"
    bad = analyse_enrolment(photo_bytes("obama_partial_face2.jpg"))
    assert not bad.accepted
    assert bad.encoding is None
    assert Reason.FACE_AT_EDGE in bad.reasons


def test_encodings_equal_face_recognitions_own(analysed: Analyse, analysis_rgb: Callable[[str], np.ndarray]) -> None:
    from PIL import ImageFile

    flag = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import face_recognition  # turns LOAD_TRUNCATED_IMAGES on at import: restored below
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = flag
    rgb = analysis_rgb("obama2.jpg")
    locations = face_recognition.face_locations(rgb, number_of_times_to_upsample=0, model="hog")
    theirs = face_recognition.face_encodings(rgb, locations, num_jitters=1, model="small")
    assert len(theirs) == 1
    np.testing.assert_allclose(theirs[0], template(analysed, "obama2.jpg"), atol=1e-6)


def test_a_verification_is_picklable_and_loggable_without_templates(analysed: Analyse, photo_bytes: Read) -> None:
    result = verify_checkin([photo_bytes("obama2.jpg")], [template(analysed, "obama.jpg")], [], None)
    copy = pickle.loads(pickle.dumps(result))  # noqa: S301  (our own object)
    assert copy.decision is result.decision
    np.testing.assert_array_equal(copy.probe_encoding, result.probe_encoding)
    record = to_loggable(result)
    assert "encoding" not in repr(record)
    assert record["provenance"]["policy_version"] == DEFAULT_POLICY.version
    assert record["image_sha256"] == [analysed("obama2.jpg").sha256]


def test_decoding_happens_at_the_analysis_size(photo_bytes: Read) -> None:
    decoded = decode_image(photo_bytes("obama3.jpg"))
    assert max(decoded.rgb.shape[:2]) == DEFAULT_POLICY.decode.analysis_max_side_px


def test_verification_runs_in_a_spawned_worker_pool(analysed: Analyse, photo_bytes: Read) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from biometrics.pipeline import warm_up

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=warm_up) as pool:
        frames, references = [photo_bytes("obama2.jpg")], [template(analysed, "obama.jpg")]
        future = pool.submit(verify_checkin, frames, references, [], None, DEFAULT_POLICY)
        result = future.result(timeout=120)
    assert result.decision is Decision.VERIFIED


def test_a_burst_of_more_frames_than_the_policy_allows_is_refused_before_decoding(analysed: Analyse) -> None:
    frames = [b"not decoded"] * (DEFAULT_POLICY.liveness.max_frames + 1)
    result = verify_checkin(frames, [template(analysed, "obama.jpg")], [], None)
    assert result.decision is Decision.REJECTED
    assert result.reasons == (Reason.LIVENESS_FRAME_COUNT,)
    assert result.frames == ()
