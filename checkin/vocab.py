"""Check-in vocabulary: prompt and check-in states, alert kinds and the reason codes this package adds to the
biometric ones (``biometrics.schemas.Reason``)."""

from __future__ import annotations

import enum


class PromptKind(enum.StrEnum):
    SCHEDULED = "SCHEDULED"  # one per check-in window of the order, at a random time inside it
    ON_DEMAND = "ON_DEMAND"  # asked for by the wearer's caseworker


class PromptStatus(enum.StrEnum):
    PENDING = "PENDING"  # issued, waiting for the watch
    SUBMITTED = "SUBMITTED"  # a check-in was accepted for it and is being verified
    ANSWERED = "ANSWERED"  # a check-in decision exists
    MISSED = "MISSED"  # the response window passed without a check-in


class CheckinStatus(enum.StrEnum):
    PROCESSING = "PROCESSING"  # accepted, verification still running (the 202 case)
    VERIFIED = "VERIFIED"
    REFERRED = "REFERRED"  # for a caseworker to review
    REJECTED = "REJECTED"  # also reviewed: a failed verification is never a breach on its own


FINAL_STATUSES = frozenset({CheckinStatus.VERIFIED, CheckinStatus.REFERRED, CheckinStatus.REJECTED})


class AlertKind(enum.StrEnum):
    MISSED = "MISSED"
    REFERRED = "REFERRED"
    REJECTED = "REJECTED"


class AlertStatus(enum.StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"  # set by the review package when a caseworker decides the item


class EnrolmentStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


class ImageKind(enum.StrEnum):
    ENROLMENT = "ENROLMENT"
    CHECKIN = "CHECKIN"


class TemplateKind(enum.StrEnum):
    REFERENCE = "REFERENCE"  # from an enrolment photo taken by staff in person
    CHECKIN = "CHECKIN"  # a check-in probe, kept for later replay checks


class CheckinReason(enum.StrEnum):
    """Reasons added by the service around the biometric decision."""

    DEVICE_NON_COMPLIANT = "DEVICE_NON_COMPLIANT"
    DEVICE_NO_POSTURE_DATA = "DEVICE_NO_POSTURE_DATA"
    LOCATION_EXCLUSION_ZONE = "LOCATION_EXCLUSION_ZONE"
    LOCATION_OUTSIDE_INCLUSION_ZONE = "LOCATION_OUTSIDE_INCLUSION_ZONE"
    LOCATION_POOR_ACCURACY = "LOCATION_POOR_ACCURACY"
    LIVENESS_NOT_PERFORMED = "LIVENESS_NOT_PERFORMED"
    DEVICE_CLOCK_SKEW = "DEVICE_CLOCK_SKEW"
    MISSED = "MISSED"


#: A fix less accurate than this (metres) is noted on the record; it does not refer the check-in by itself.
POOR_ACCURACY_M = 100.0
