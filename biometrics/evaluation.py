"""Offline evaluation: genuine and impostor pairs, FMR and FNMR over thresholds (ISO/IEC 19795-1 terms).

FMR is the share of impostor pairs accepted at a threshold, FNMR the share of genuine pairs not accepted. A
pair with an image that failed decoding, detection or a quality gate counts as not accepted (a failure to
acquire is a non-match for the genuine side, and cannot be a false match). With no false match among N
impostor pairs the FMR is only bounded, at about 3/N (95 %).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import msgspec
import numpy as np

from biometrics.pipeline import analyse_image, warm_up
from biometrics.policy import DEFAULT_POLICY, BiometricPolicy
from biometrics.schemas import ImageAnalysis

DEFAULT_THRESHOLDS = tuple(round(0.30 + 0.05 * step, 2) for step in range(11))


class EvaluationInputError(ValueError):
    """A pairs file or image directory that cannot be evaluated; the message is for a person."""


class Pair(msgspec.Struct, frozen=True):
    left: str
    right: str
    same: bool


class ThresholdRow(msgspec.Struct, frozen=True):
    threshold: float
    fmr: float
    fnmr: float
    false_matches: int
    false_non_matches: int


class Outcome(msgspec.Struct):
    accepted: int = 0
    referred: int = 0
    rejected: int = 0


class FailedImage(msgspec.Struct, frozen=True):
    name: str
    reasons: list[str]


class Report(msgspec.Struct, kw_only=True):
    genuine: int
    impostor: int
    images: int
    failed_images: list[FailedImage]
    policy: dict[str, float | str]
    outcomes: dict[str, Outcome]
    referred_share: dict[str, float]
    thresholds: list[ThresholdRow]
    target_fmr: float
    at_target_fmr: ThresholdRow | None
    fmr_upper_bound_if_zero_errors: float | None
    distances: dict[str, dict[str, float]]


def read_pairs(pairs_path: Path, images_dir: Path) -> list[Pair]:
    try:
        with pairs_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != [
                "left",
                "right",
                "same",
            ]:
                raise EvaluationInputError(f"{pairs_path.name}: the header must be exactly 'left,right,same'")
            rows = list(reader)
    except OSError as exc:
        raise EvaluationInputError(f"cannot read {pairs_path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EvaluationInputError(f"{pairs_path.name} is not a readable CSV file: {exc}") from None
    pairs = []
    for line, row in enumerate(rows, start=2):
        left, right, same = (str(row.get(key) or "").strip() for key in ("left", "right", "same"))
        if not left or not right or same not in {"0", "1"}:
            raise EvaluationInputError(f"{pairs_path.name} line {line}: need left, right and same = 0 or 1")
        pairs.append(Pair(left, right, same == "1"))
    if not pairs:
        raise EvaluationInputError(f"{pairs_path.name} lists no pairs")
    root = images_dir.resolve()
    for name in sorted({name for pair in pairs for name in (pair.left, pair.right)}):
        path = (images_dir / name).resolve()
        if not path.is_relative_to(root):
            raise EvaluationInputError(f"{name}: image names must stay inside the image directory")
        if not path.is_file():
            raise EvaluationInputError(f"image not found: {name}")
    return pairs


def analyse_file(path: str, policy: BiometricPolicy = DEFAULT_POLICY) -> ImageAnalysis:
    """Worker entry point: read and analyse one image file."""
    return analyse_image(Path(path).read_bytes(), policy)


def _init_worker(policy: BiometricPolicy) -> None:
    warm_up(policy)


def analyse_images(
    names: Sequence[str],
    images_dir: Path,
    policy: BiometricPolicy = DEFAULT_POLICY,
    workers: int = 1,
    on_done: Callable[[], None] | None = None,
) -> dict[str, ImageAnalysis]:
    """Encode each image once, in ``workers`` spawned processes."""
    paths = [str(images_dir / name) for name in names]
    results: dict[str, ImageAnalysis] = {}
    context = get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=max(1, workers), mp_context=context, initializer=_init_worker, initargs=(policy,)
    ) as pool:
        for name, analysis in zip(names, pool.map(analyse_file, paths, [policy] * len(paths)), strict=True):
            results[name] = analysis
            if on_done is not None:
                on_done()
    return results


def _pair_distances(pairs: Iterable[Pair], analyses: Mapping[str, ImageAnalysis]) -> tuple[list[float], list[float]]:
    genuine: list[float] = []
    impostor: list[float] = []
    for pair in pairs:
        left, right = analyses[pair.left], analyses[pair.right]
        usable = left.usable and right.usable
        # A failure to acquire is never accepted.
        distance = float(np.linalg.norm(left.encoding - right.encoding)) if usable else math.inf  # type: ignore[operator]
        (genuine if pair.same else impostor).append(distance)
    return genuine, impostor


def _row(threshold: float, genuine: Sequence[float], impostor: Sequence[float]) -> ThresholdRow:
    false_matches = sum(1 for d in impostor if d <= threshold)
    false_non_matches = sum(1 for d in genuine if d > threshold)
    return ThresholdRow(
        threshold=round(threshold, 4),
        fmr=round(false_matches / len(impostor), 6) if impostor else 0.0,
        fnmr=round(false_non_matches / len(genuine), 6) if genuine else 0.0,
        false_matches=false_matches,
        false_non_matches=false_non_matches,
    )


def _summary(values: Sequence[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {}
    return {
        "min": round(min(finite), 4),
        "median": round(float(np.median(finite)), 4),
        "max": round(max(finite), 4),
    }


def evaluate(
    pairs: Sequence[Pair],
    analyses: Mapping[str, ImageAnalysis],
    policy: BiometricPolicy = DEFAULT_POLICY,
    target_fmr: float = 0.001,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> Report:
    genuine, impostor = _pair_distances(pairs, analyses)
    outcomes = {"genuine": Outcome(), "impostor": Outcome()}
    for kind, values in (("genuine", genuine), ("impostor", impostor)):
        for d in values:
            if d <= policy.accept_distance:
                outcomes[kind].accepted += 1
            elif d <= policy.refer_distance:
                outcomes[kind].referred += 1
            else:
                outcomes[kind].rejected += 1
    grid = sorted({*thresholds, policy.accept_distance, policy.refer_distance})
    rows = [_row(t, genuine, impostor) for t in grid]
    at_target = None
    if impostor:
        allowed = math.floor(target_fmr * len(impostor) + 1e-9)
        matchable = sorted(d for d in impostor if math.isfinite(d))
        if allowed < len(matchable):
            # accept strictly below the (allowed + 1)-th smallest impostor distance
            threshold = math.floor(matchable[allowed] * 10_000 - 1) / 10_000
        else:
            threshold = max([*grid, *(d for d in genuine if math.isfinite(d))])
        at_target = _row(threshold, genuine, impostor)
    zero_bound = None
    if at_target is not None and at_target.false_matches == 0:
        zero_bound = round(min(1.0, 3 / len(impostor)), 6)
    return Report(
        genuine=len(genuine),
        impostor=len(impostor),
        images=len(analyses),
        failed_images=[
            FailedImage(name, [str(reason) for reason in analysis.reasons])
            for name, analysis in sorted(analyses.items())
            if not analysis.usable
        ],
        policy={
            "version": policy.version,
            "accept": policy.accept_distance,
            "refer": policy.refer_distance,
        },
        outcomes=outcomes,
        referred_share={
            kind: round(outcome.referred / total, 6)
            if (total := len(genuine if kind == "genuine" else impostor))
            else 0.0
            for kind, outcome in outcomes.items()
        },
        thresholds=rows,
        target_fmr=target_fmr,
        at_target_fmr=at_target,
        fmr_upper_bound_if_zero_errors=zero_bound,
        distances={"genuine": _summary(genuine), "impostor": _summary(impostor)},
    )
