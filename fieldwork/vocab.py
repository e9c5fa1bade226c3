"""The value lists of field work, named as the domain names them (see the domain guide)."""

from __future__ import annotations

import enum


class OrderType(enum.StrEnum):
    CIVIL = "CIVIL"
    COMMUNITY = "COMMUNITY"
    IMMIGRATION = "IMMIGRATION"
    POST_RELEASE = "POST_RELEASE"
    PRE_TRIAL = "PRE_TRIAL"
    SPECIAL = "SPECIAL"
    BAIL = "BAIL"


class RequestType(enum.StrEnum):
    REQUEST = "REQUEST"
    VARIATION = "VARIATION"
    REVOCATION = "REVOCATION"
    END_MONITORING = "END_MONITORING"
    REINSTALL_DEVICE = "REINSTALL_DEVICE"
    REINSTALL_AT_DIFFERENT_ADDRESS = "REINSTALL_AT_DIFFERENT_ADDRESS"


class OrderStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"
    ERROR = "ERROR"


class VersionStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    SUBMITTED = "SUBMITTED"
    SUPERSEDED = "SUPERSEDED"


class Sex(enum.StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    PREFER_NOT_TO_SAY = "PREFER_NOT_TO_SAY"
    UNKNOWN = "UNKNOWN"


class Gender(enum.StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    NON_BINARY = "NON_BINARY"
    PREFER_TO_SELF_DESCRIBE = "PREFER_TO_SELF_DESCRIBE"
    NOT_ABLE_TO_PROVIDE = "NOT_ABLE_TO_PROVIDE"


class AddressType(enum.StrEnum):
    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"
    TERTIARY = "TERTIARY"
    INSTALLATION = "INSTALLATION"
    RESPONSIBLE_ADULT = "RESPONSIBLE_ADULT"


class ZoneType(enum.StrEnum):
    EXCLUSION = "EXCLUSION"
    INCLUSION = "INCLUSION"


class DeviceWearing(enum.StrEnum):
    """Whether a condition is monitored by a fitted tag or a non-fitted device (a smartwatch)."""

    FITTED = "FITTED"
    NON_FITTED = "NON_FITTED"


class AlcoholMonitoring(enum.StrEnum):
    ALCOHOL_LEVEL = "ALCOHOL_LEVEL"
    ALCOHOL_ABSTINENCE = "ALCOHOL_ABSTINENCE"


class Weekday(enum.StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAYS = list(Weekday)  # index = date.weekday()


class Safeguarding(enum.StrEnum):
    ADULT = "ADULT"
    CHILD = "CHILD"
    DOMESTIC_ABUSE = "DOMESTIC_ABUSE"


class MappaLevel(enum.StrEnum):
    LEVEL_1 = "LEVEL_1"
    LEVEL_2 = "LEVEL_2"
    LEVEL_3 = "LEVEL_3"


class MappaCategory(enum.StrEnum):
    CATEGORY_1 = "CATEGORY_1"
    CATEGORY_2 = "CATEGORY_2"
    CATEGORY_3 = "CATEGORY_3"
    CATEGORY_4 = "CATEGORY_4"


class JobKind(enum.StrEnum):
    FITTING = "FITTING"
    REMOVAL = "REMOVAL"


class JobStatus(enum.StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class VisitOutcome(enum.StrEnum):
    COMPLETED = "COMPLETED"
    NO_ACCESS = "NO_ACCESS"
    WEARER_ABSENT = "WEARER_ABSENT"
    REFUSED = "REFUSED"
    UNSAFE_TO_PROCEED = "UNSAFE_TO_PROCEED"
    EQUIPMENT_FAULT = "EQUIPMENT_FAULT"
    CANCELLED = "CANCELLED"


FAILED_OUTCOMES = frozenset(VisitOutcome) - {VisitOutcome.COMPLETED}


class RemovalReason(enum.StrEnum):
    ORDER_ENDED = "ORDER_ENDED"
    REVOKED = "REVOKED"
    REPLACEMENT = "REPLACEMENT"
    FAULT = "FAULT"
    DAMAGED = "DAMAGED"
    TAMPERED = "TAMPERED"
    MEDICAL = "MEDICAL"
    OTHER = "OTHER"


ENDING_REASONS = frozenset({RemovalReason.ORDER_ENDED, RemovalReason.REVOKED})


class DeviceCondition(enum.StrEnum):
    """The state a removed device comes back in; decides where it goes next."""

    GOOD = "GOOD"  # straight back into the team's stock
    DAMAGED = "DAMAGED"  # returned, awaiting inspection
    FAULTY = "FAULTY"
    NOT_RECOVERED = "NOT_RECOVERED"  # lost


class DeviceType(enum.StrEnum):
    RF_TAG = "RF_TAG"
    GPS_TAG = "GPS_TAG"
    HMU = "HMU"
    ALCOHOL_TAG = "ALCOHOL_TAG"
    SMARTWATCH = "SMARTWATCH"


class DeviceStatus(enum.StrEnum):
    IN_STOCK = "IN_STOCK"
    ALLOCATED_TO_OFFICER = "ALLOCATED_TO_OFFICER"
    FITTED = "FITTED"
    RETURNED = "RETURNED"
    FAULTY = "FAULTY"
    LOST = "LOST"
    RETIRED = "RETIRED"


# The device state machine: every move not listed here is refused.
DEVICE_TRANSITIONS: dict[DeviceStatus, frozenset[DeviceStatus]] = {
    DeviceStatus.IN_STOCK: frozenset(
        {
            DeviceStatus.ALLOCATED_TO_OFFICER,
            DeviceStatus.FITTED,
            DeviceStatus.FAULTY,
            DeviceStatus.LOST,
            DeviceStatus.RETIRED,
        }
    ),
    DeviceStatus.ALLOCATED_TO_OFFICER: frozenset(
        {DeviceStatus.IN_STOCK, DeviceStatus.FITTED, DeviceStatus.FAULTY, DeviceStatus.LOST}
    ),
    DeviceStatus.FITTED: frozenset(
        {DeviceStatus.IN_STOCK, DeviceStatus.RETURNED, DeviceStatus.FAULTY, DeviceStatus.LOST}
    ),
    DeviceStatus.RETURNED: frozenset({DeviceStatus.IN_STOCK, DeviceStatus.FAULTY, DeviceStatus.RETIRED}),
    DeviceStatus.FAULTY: frozenset({DeviceStatus.IN_STOCK, DeviceStatus.RETIRED}),
    DeviceStatus.LOST: frozenset({DeviceStatus.IN_STOCK, DeviceStatus.RETIRED}),
    DeviceStatus.RETIRED: frozenset(),
}


class Placement(enum.StrEnum):
    LEFT_LEG = "LEFT_LEG"
    RIGHT_LEG = "RIGHT_LEG"
    LEFT_WRIST = "LEFT_WRIST"
    RIGHT_WRIST = "RIGHT_WRIST"
    NOT_WORN = "NOT_WORN"  # a home monitoring unit


class Ethnicity(enum.StrEnum):
    """ONS 2021 census: the five groups, each with its detailed categories (19 in all)."""

    # Asian, Asian British or Asian Welsh
    ASIAN_BANGLADESHI = "ASIAN_BANGLADESHI"
    ASIAN_CHINESE = "ASIAN_CHINESE"
    ASIAN_INDIAN = "ASIAN_INDIAN"
    ASIAN_PAKISTANI = "ASIAN_PAKISTANI"
    ASIAN_OTHER = "ASIAN_OTHER"
    # Black, Black British, Black Welsh, Caribbean or African
    BLACK_AFRICAN = "BLACK_AFRICAN"
    BLACK_CARIBBEAN = "BLACK_CARIBBEAN"
    BLACK_OTHER = "BLACK_OTHER"
    # Mixed or Multiple ethnic groups
    MIXED_WHITE_AND_ASIAN = "MIXED_WHITE_AND_ASIAN"
    MIXED_WHITE_AND_BLACK_AFRICAN = "MIXED_WHITE_AND_BLACK_AFRICAN"
    MIXED_WHITE_AND_BLACK_CARIBBEAN = "MIXED_WHITE_AND_BLACK_CARIBBEAN"
    MIXED_OTHER = "MIXED_OTHER"
    # White
    WHITE_BRITISH = "WHITE_BRITISH"  # English, Welsh, Scottish, Northern Irish or British
    WHITE_IRISH = "WHITE_IRISH"
    WHITE_GYPSY_OR_IRISH_TRAVELLER = "WHITE_GYPSY_OR_IRISH_TRAVELLER"
    WHITE_ROMA = "WHITE_ROMA"
    WHITE_OTHER = "WHITE_OTHER"
    # Other ethnic group
    OTHER_ARAB = "OTHER_ARAB"
    OTHER_ANY = "OTHER_ANY"
    PREFER_NOT_TO_SAY = "PREFER_NOT_TO_SAY"


class EthnicGroup(enum.StrEnum):
    ASIAN = "ASIAN"
    BLACK = "BLACK"
    MIXED = "MIXED"
    WHITE = "WHITE"
    OTHER = "OTHER"
    PREFER_NOT_TO_SAY = "PREFER_NOT_TO_SAY"


def ethnic_group(ethnicity: Ethnicity) -> EthnicGroup:
    """The ONS high-level group of a detailed category (for aggregate reports)."""
    if ethnicity is Ethnicity.PREFER_NOT_TO_SAY:
        return EthnicGroup.PREFER_NOT_TO_SAY
    return EthnicGroup(ethnicity.value.split("_", 1)[0])


class Religion(enum.StrEnum):
    """ONS 2021 census religion question."""

    NO_RELIGION = "NO_RELIGION"
    CHRISTIAN = "CHRISTIAN"
    BUDDHIST = "BUDDHIST"
    HINDU = "HINDU"
    JEWISH = "JEWISH"
    MUSLIM = "MUSLIM"
    SIKH = "SIKH"
    OTHER = "OTHER"
    PREFER_NOT_TO_SAY = "PREFER_NOT_TO_SAY"


class DisabilityDeclaration(enum.StrEnum):
    YES = "YES"
    NO = "NO"
    PREFER_NOT_TO_SAY = "PREFER_NOT_TO_SAY"
