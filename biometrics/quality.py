"""Quality measurements and gates for one face.

Pose comes from the dlib 5-point landmarks (eye corners and the base of the nose): roll is the angle of the
line between the eye centres; yaw is estimated from how far the base of the nose sits sideways from the
midpoint between the eyes, in units of the inter-eye distance, through ``atan(offset / NOSE_DEPTH)`` with a
generic face depth. It is an estimate good for gates and for the direction and rough size of a head turn, not
a measured angle.

Sharpness (variance of the Laplacian) and exposure are measured on the 150x150 aligned face crop, so the
figures do not depend on the photo's resolution.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from biometrics.policy import QualityLimits
from biometrics.schemas import FaceMeasures, Reason

#: Depth of the base of the nose in front of the eye corners, in inter-eye distances (generic face).
NOSE_DEPTH = 0.55


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eye centres from dlib's 5 points, as (image-left eye, image-right eye)."""
    first = landmarks[0:2].mean(axis=0)
    second = landmarks[2:4].mean(axis=0)
    return (first, second) if first[0] <= second[0] else (second, first)


def normalised_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks with the eye midpoint at the origin, the eye line horizontal and the inter-eye distance 1."""
    left, right = eye_centres(landmarks)
    vector = right - left
    distance = float(np.hypot(*vector)) or 1.0
    angle = math.atan2(vector[1], vector[0])
    cos, sin = math.cos(-angle), math.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return ((landmarks - (left + right) / 2) @ rotation.T) / distance


def pose(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """(inter-eye px, yaw degrees, roll degrees, nose drop) from 5-point landmarks."""
    left, right = eye_centres(landmarks)
    vector = right - left
    inter_eye = float(np.hypot(*vector))
    roll = math.degrees(math.atan2(vector[1], vector[0]))
    nose = normalised_landmarks(landmarks)[4]
    yaw = math.degrees(math.atan2(float(nose[0]), NOSE_DEPTH))
    return inter_eye, yaw, roll, float(nose[1])


def measure(
    landmarks: np.ndarray,
    box: tuple[int, int, int, int],
    image_shape: tuple[int, ...],
    chip: np.ndarray,
    eye_aspect_ratio: float | None = None,
) -> FaceMeasures:
    inter_eye, yaw, roll, nose_drop = pose(landmarks)
    grey = cv2.cvtColor(np.ascontiguousarray(chip), cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    clipped = float(np.count_nonzero((grey <= 5) | (grey >= 250))) / grey.size
    left, top, right, bottom = box
    height, width = image_shape[0], image_shape[1]
    box_w, box_h = max(1, right - left), max(1, bottom - top)
    outside = max(
        max(0, -left) / box_w,
        max(0, right - width) / box_w,
        max(0, -top) / box_h,
        max(0, bottom - height) / box_h,
    )
    return FaceMeasures(
        box=box,
        landmarks=tuple((round(float(x), 2), round(float(y), 2)) for x, y in landmarks),
        inter_eye_px=round(inter_eye, 2),
        yaw_deg=round(yaw, 2),
        roll_deg=round(roll, 2),
        nose_drop=round(nose_drop, 4),
        sharpness=round(sharpness, 2),
        mean_brightness=round(float(grey.mean()), 2),
        clipped_share=round(clipped, 4),
        box_outside_share=round(outside, 4),
        eye_aspect_ratio=eye_aspect_ratio,
    )


def gate(measures: FaceMeasures, limits: QualityLimits, *, check_pose: bool = True) -> tuple[Reason, ...]:
    """Reason codes for every gate the face fails (empty when it passes)."""
    reasons: list[Reason] = []
    if measures.box_outside_share > limits.max_box_outside_share:
        reasons.append(Reason.FACE_AT_EDGE)
    if measures.inter_eye_px < limits.min_inter_eye_px:
        reasons.append(Reason.FACE_TOO_SMALL)
    if check_pose and (abs(measures.yaw_deg) > limits.max_yaw_deg or abs(measures.roll_deg) > limits.max_roll_deg):
        reasons.append(Reason.POSE_OUT_OF_RANGE)
    if measures.sharpness < limits.min_sharpness:
        reasons.append(Reason.TOO_BLURRED)
    if (
        not limits.min_mean_brightness <= measures.mean_brightness <= limits.max_mean_brightness
        or measures.clipped_share > limits.max_clipped_share
    ):
        reasons.append(Reason.BAD_EXPOSURE)
    return tuple(reasons)


def eye_aspect_ratio(points_68: np.ndarray) -> float:
    """Mean eye aspect ratio (Soukupova and Cech, 2016) over both eyes from 68-point landmarks."""

    def one(eye: np.ndarray) -> float:
        vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
        horizontal = 2.0 * np.linalg.norm(eye[0] - eye[3]) or 1.0
        return float(vertical / horizontal)

    return round((one(points_68[36:42]) + one(points_68[42:48])) / 2, 4)
