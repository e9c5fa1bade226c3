"""The biometric policy: every threshold a decision depends on, versioned as one value.

A decision records ``policy.version`` so a reviewer can tell which limits were in force. Change a limit,
change the version.
"""

from __future__ import annotations

import msgspec


class DecodeLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits applied to an upload before and while it is decoded."""

    max_bytes: int = 8 * 1024 * 1024
    max_side_px: int = 8_000
    max_pixels: int = 24_000_000
    #: Images are downscaled so their longer side is at most this before detection.
    analysis_max_side_px: int = 640


class QualityLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Quality gates; sharpness and exposure are measured on the 150x150 aligned face crop."""

    min_inter_eye_px: float = 20.0
    max_yaw_deg: float = 30.0
    max_roll_deg: float = 25.0
    #: Variance of the Laplacian of the grey aligned crop.
    min_sharpness: float = 40.0
    min_mean_brightness: float = 45.0
    max_mean_brightness: float = 215.0
    #: Share of crop pixels at <= 5 or >= 250 grey.
    max_clipped_share: float = 0.25
    #: The detector box may not extend beyond the frame by more than this share of its width.
    max_box_outside_share: float = 0.0


class LivenessLimits(msgspec.Struct, frozen=True, kw_only=True):
    min_frames: int = 2
    max_frames: int = 5
    #: Estimated yaw change, in degrees, a TURN challenge must show, in the asked direction.
    min_turn_deg: float = 12.0
    #: Change of (nose drop / inter-eye distance) a NOD challenge must show.
    min_nod_ratio: float = 0.08
    #: Relative drop of the eye aspect ratio a BLINK challenge must show (68-point model only).
    min_blink_drop: float = 0.25
    #: No landmark moving more than this (in inter-eye distances, relative to the eyes) from the first frame
    #: means a still picture.
    min_landmark_motion: float = 0.05
    #: Two frames whose encodings are closer than this are treated as the same picture.
    min_frame_distance: float = 0.005
    #: Every frame of a burst must show the same person as the first: distance at most this.
    max_intra_burst_distance: float = 0.45


class BiometricPolicy(msgspec.Struct, frozen=True, kw_only=True):
    version: str = "2026.11-1"
    accept_distance: float = 0.50
    refer_distance: float = 0.60
    replay_distance: float = 0.10
    #: A probe this close to an enrolment reference is also treated as a replayed picture of it.
    replay_check_references: bool = True
    max_references: int = 5
    #: HOG detector upsampling: first pass, and a retry pass when nothing was found.
    upsample: int = 0
    upsample_retry: int = 1
    #: The 68-point landmark model is licensed for non-commercial use only; off by default.
    use_68_point_model: bool = False
    decode: DecodeLimits = msgspec.field(default_factory=DecodeLimits)
    quality: QualityLimits = msgspec.field(default_factory=QualityLimits)
    liveness: LivenessLimits = msgspec.field(default_factory=LivenessLimits)

    def __post_init__(self) -> None:
        if not 0.0 < self.accept_distance <= self.refer_distance:
            raise ValueError("policy needs 0 < accept_distance <= refer_distance")
        if not 0.0 <= self.replay_distance < self.accept_distance:
            raise ValueError("policy needs 0 <= replay_distance < accept_distance")


DEFAULT_POLICY = BiometricPolicy()
