"""Distances, decision bands and the replay check.

Several references: the decision uses the minimum distance over all of a wearer's references (at most
``policy.max_references``). References are enrolment photos taken in person by a field officer, so each is
trusted; the closest one is the best evidence, and an older or poorer reference cannot drag a genuine check-in
into review the way an average would. The cost is a slightly higher false match rate (an impostor gets several
chances), which is why the number of references is capped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biometrics.policy import BiometricPolicy
from biometrics.schemas import Band


def distances(probe: np.ndarray, templates: Sequence[np.ndarray]) -> np.ndarray:
    """Euclidean distances, as ``face_recognition.face_distance``."""
    if len(templates) == 0:
        return np.empty(0)
    return np.linalg.norm(np.asarray(templates, dtype=np.float64) - probe, axis=1)


def best_match(probe: np.ndarray, references: Sequence[np.ndarray]) -> tuple[float, int]:
    """(minimum distance, index of that reference). ``references`` must not be empty."""
    found = distances(probe, references)
    index = int(np.argmin(found))
    return float(found[index]), index


def band(distance: float, policy: BiometricPolicy) -> Band:
    if distance <= policy.accept_distance:
        return Band.ACCEPT
    if distance <= policy.refer_distance:
        return Band.REFER
    return Band.REJECT


def replay_distance(probe: np.ndarray, earlier: Sequence[np.ndarray]) -> float | None:
    """The smallest distance to any earlier template, or None when there is none."""
    if len(earlier) == 0:
        return None
    return float(distances(probe, earlier).min())
