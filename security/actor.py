"""Who is calling: the one object every service receives and scopes its reads by.

The authentication middleware (``security.auth``) puts an :class:`Actor` on ``request.user``; handlers get it as
the ``actor`` dependency and pass it to services. Guards declare which roles may call a route at all; services
decide which records the actor may see (another's record answers 404, never 403).
"""

from __future__ import annotations

import enum
import uuid

import msgspec


class Role(enum.StrEnum):
    FIELD_OFFICER = "field_officer"
    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    WATCH = "watch"  # a wearer's enrolled smartwatch acting for its wearer only
    PHONE = "phone"  # a field officer's enrolled phone acting as itself (posture reports, sync)


STAFF_ROLES = frozenset({Role.FIELD_OFFICER, Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN})
DEVICE_ROLES = frozenset({Role.WATCH, Role.PHONE})


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated caller. ``id`` is the staff account id, or the device id for a watch."""

    id: uuid.UUID
    role: Role
    team_id: uuid.UUID | None = None
    wearer_id: uuid.UUID | None = None  # set for watches: the only wearer they may act for
    device_id: uuid.UUID | None = None
    token_id: str | None = None  # the access token's jti, for revocation and audit
    client_address: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


# The system itself (sweeper, retention purge, CLI) when it acts without a person.
SYSTEM_ACTOR_ID = uuid.UUID(int=0)
SYSTEM = Actor(id=SYSTEM_ACTOR_ID, role=Role.ADMIN)
