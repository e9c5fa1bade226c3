"""Benchmark: the check-in pipeline against raw face_recognition on the same photos.

Prints ratios against a baseline measured in the same run (never a pass/fail timing test):

- baseline: ``face_recognition.load_image_file`` + ``face_locations(model="hog", upsample=1)`` +
  ``face_encodings(model="small")`` on the photo as given;
- ``analyse_image``: safe decode, downscale to 640 px, detect, quality measures, encode;
- ``verify_checkin`` with one frame, and with a three-frame liveness burst.

Each stage runs in its own spawned worker process, so the resident memory of a pipeline worker (which never
imports face_recognition) is measured apart from the baseline's.

    .venv/bin/python bench/bench_biometrics.py [IMAGE_DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report
from tests.faces import faces_dir

PHOTO_NAMES = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")


def _photos(directory: Path) -> list[Path]:
    found = []
    for name in PHOTO_NAMES:
        for candidate in (directory / name, directory / f"tests_test_images_{name}"):
            if candidate.is_file():
                found.append(candidate)
                break
    return found


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def baseline(paths: list[str], repeat: int) -> dict[str, float]:
    import face_recognition

    images = []
    start = time.process_time()
    for path in paths:
        images.append(face_recognition.load_image_file(path))
    decode = time.process_time() - start
    start = time.process_time()
    for _ in range(repeat):
        for image in images:
            locations = face_recognition.face_locations(image, number_of_times_to_upsample=1, model="hog")
            face_recognition.face_encodings(image, locations, num_jitters=1, model="small")
    per_image = (time.process_time() - start) / (repeat * len(images)) + decode / len(images)
    return {"seconds": per_image, "rss_mb": _rss_mb()}


def pipeline(paths: list[str], repeat: int) -> dict[str, float]:
    from biometrics.liveness import ChallengeKind
    from biometrics.pipeline import analyse_image, verify_checkin, warm_up
    from biometrics.schemas import Challenge

    start = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - start
    rss_warm = _rss_mb()
    data = [Path(path).read_bytes() for path in paths]
    start = time.process_time()
    for _ in range(repeat):
        analyses = [analyse_image(item) for item in data]
    analyse = (time.process_time() - start) / (repeat * len(data))
    reference = [analyses[0].encoding]
    start = time.process_time()
    for _ in range(repeat):
        for item in data:
            verify_checkin([item], reference, [], None)
    verify_one = (time.process_time() - start) / (repeat * len(data))
    burst = data[:3]
    challenge = Challenge(kind=ChallengeKind.TURN_LEFT.value, nonce_sha256="0" * 64)
    start = time.process_time()
    for _ in range(repeat):
        verify_checkin(burst, reference, [], challenge)
    verify_burst = (time.process_time() - start) / repeat
    return {
        "warm_up_s": warm,
        "rss_after_warm_up_mb": rss_warm,
        "analyse_s": analyse,
        "verify_one_frame_s": verify_one,
        "verify_three_frames_s": verify_burst,
        "rss_mb": _rss_mb(),
    }


def _in_worker(function, *args):  # type: ignore[no-untyped-def]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="?", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    directory = args.images or faces_dir()
    if directory is None:
        raise SystemExit("no test photos: pass a directory or run scripts/fetch_test_faces.py")
    paths = [str(path) for path in _photos(directory)]
    if not paths:
        raise SystemExit(f"none of {', '.join(PHOTO_NAMES)} in {directory}")
    base = _in_worker(baseline, paths, args.repeat)
    ours = _in_worker(pipeline, paths, args.repeat)
    names = ", ".join(Path(p).name for p in paths)
    print(f"photos: {len(paths)} ({names}), repeat {args.repeat}; CPU seconds per photo or check-in")
    print(f"baseline face_recognition load+detect(upsample 1)+encode: {base['seconds']:.3f} s/photo")
    print(f"  worker max RSS {base['rss_mb']:.0f} MB")
    print(f"warm_up: {ours['warm_up_s']:.2f} s wall, then RSS {ours['rss_after_warm_up_mb']:.0f} MB")
    for key, label, photos in (
        ("analyse_s", "analyse_image", 1),
        ("verify_one_frame_s", "verify_checkin, 1 frame", 1),
        ("verify_three_frames_s", "verify_checkin, 3-frame burst", 3),
    ):
        ratio = ours[key] / (base["seconds"] * photos)
        print(f"{label:32s} {ours[key]:.3f} s  ratio to baseline on as many photos {ratio:.2f}")
        report(
            f"pipeline {label}",
            ours[key],
            "s CPU",
            baseline="raw face_recognition s/photo",
            baseline_value=base["seconds"] * photos,
            ratio=ratio,
            goal="about 0.2 s per check-in",
        )
    print(f"  pipeline worker max RSS {ours['rss_mb']:.0f} MB")
    report("pipeline worker peak RSS", ours["rss_mb"], "MB", goal="< 400 MB")


if __name__ == "__main__":
    main()
