"""Synthetic frames made from real photos, for liveness and quality specifications.

``warped``: a smooth local warp that moves the base of the nose sideways relative to the eyes, which is what
the landmark yaw estimate looks at. It proves the judgement follows the landmarks through the real detector
and landmark model in the right direction; it is not a real head turn (no occlusion, no perspective).
"""

from __future__ import annotations

import cv2
import numpy as np

from biometrics.schemas import ImageAnalysis


def warped(rgb: np.ndarray, analysis: ImageAnalysis, dx: float, dy: float = 0.0, sigma: float = 0.6) -> np.ndarray:
    """Move the nose by (dx, dy) inter-eye distances with a Gaussian displacement field."""
    assert analysis.measures is not None
    nose_x, nose_y = analysis.measures.landmarks[4]
    scale = analysis.measures.inter_eye_px
    height, width = rgb.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    weight = np.exp(-((xs - nose_x) ** 2 + (ys - nose_y) ** 2) / (2 * (sigma * scale) ** 2)).astype(np.float32)
    map_x = (xs - dx * scale * weight).astype(np.float32)
    map_y = (ys - dy * scale * weight).astype(np.float32)
    return cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
