"""Enrolled devices (officers' phones, wearers' watches) and the signed requests they make.

A device holds a private key (Ed25519 or P-256, ideally in its secure hardware); enrolment records the public key.
Every device request carries four headers and is refused (401) unless all hold:

- ``X-Device-Id``: the enrolled device's id, matching the device in its access token;
- ``X-Device-Timestamp``: Unix seconds, within ``EMON_SECURITY_DEVICE_CLOCK_SKEW_SECONDS`` of the server's clock;
- ``X-Device-Nonce``: 16-64 characters of ``[A-Za-z0-9_-]``, never used before by the device;
- ``X-Device-Signature``: base64 (or base64url) of the signature over :func:`canonical_request`: Ed25519, or
  ECDSA P-256 with SHA-256 (DER, or raw r||s).

Device routes declare ``dependencies={"device": Provide(signed_device)}`` (the check-in routes do) and a
``requires(Role.WATCH)`` guard; the dependency returns the :class:`Actor` of the device, with ``wearer_id`` for a
watch. A watch acts for its own wearer only: call :func:`ensure_acts_for` with the wearer a request is about.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from litestar import Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from security.actor import DEVICE_ROLES, Actor, Role
from security.audit import record
from security.models import Device, DeviceKind, DevicePosture, DeviceStatus
from security.runtime import SecurityRuntime, runtime_of
from security.schemas import DeviceEnrolment, PostureReport

SIGNATURE_VERSION = "EMON-DEVICE-SIG-V1"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
DevicePublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
INVALID = "invalid device signature"


# ---- keys ---------------------------------------------------------------------------------------------------------


def parse_public_key(text: str) -> tuple[DevicePublicKey, str]:
    """A device public key from PEM, base64 DER (SubjectPublicKeyInfo) or base64 raw bytes (32-byte Ed25519, 65- or
    33-byte P-256 point); returns the key and its algorithm name. Other key types are refused."""
    text = text.strip()
    key: Any
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            raw = base64.b64decode(
                text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None
            )
            if len(raw) == 32:
                key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            elif len(raw) in (33, 65) and raw[0] in (2, 3, 4):
                key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
            else:
                key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError, binascii.Error):
        raise ValidationFailed(
            "The public key is not readable", errors=[{"field": "public_key", "message": "not a PEM or base64 key"}]
        ) from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, "Ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return key, "P-256"
    raise ValidationFailed(
        "Unsupported key type", errors=[{"field": "public_key", "message": "must be an Ed25519 or P-256 public key"}]
    )


def spki_pem(key: DevicePublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def thumbprint(key: DevicePublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


# ---- signed requests ----------------------------------------------------------------------------------------------


def canonical_request(
    method: str, path_and_query: str, body: bytes, timestamp: str, nonce: str, device_id: str
) -> bytes:
    """What a device signs: one field per line, the body as its SHA-256 in hex."""
    return "\n".join(
        [
            SIGNATURE_VERSION,
            method.upper(),
            path_and_query,
            hashlib.sha256(body).hexdigest(),
            timestamp,
            nonce,
            device_id,
        ]
    ).encode()


def _path_and_query(scope: Any) -> str:
    raw = scope.get("raw_path")
    # ASGI's raw_path has no query string (uvicorn's has none); some transports (Litestar's test client) include it
    path = bytes(raw).partition(b"?")[0].decode("latin-1") if isinstance(raw, bytes | bytearray) else scope["path"]
    query = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


def _verify_signature(key: DevicePublicKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            if len(signature) == 64:  # raw r||s, as WebCrypto and some keystores give it
                signature = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64(value: str) -> bytes:
    value = value.strip()
    try:
        return base64.b64decode(
            value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value else None
        )
    except (binascii.Error, ValueError):
        return b""


async def verify_signed_request(request: Request[Any, Any, Any], rt: SecurityRuntime) -> Device:
    """The active device that signed this request; :class:`NotAuthenticated` (one message) for anything else."""
    headers = request.headers
    device_header = headers.get("x-device-id", "")
    timestamp = headers.get("x-device-timestamp", "")
    nonce = headers.get("x-device-nonce", "")
    signature = _b64(headers.get("x-device-signature", ""))
    try:
        device_id = uuid.UUID(device_header)
        sent_at = int(timestamp)
    except ValueError:
        raise NotAuthenticated(INVALID) from None
    skew = rt.settings.security.device_clock_skew_seconds
    if not _NONCE.match(nonce) or not signature or abs(utcnow().timestamp() - sent_at) > skew:
        raise NotAuthenticated(INVALID)
    async with rt.db.sessionmaker() as session:
        device = await session.get(Device, device_id)
    if device is None or device.status != DeviceStatus.ACTIVE:
        raise NotAuthenticated(INVALID)
    key, _ = parse_public_key(device.public_key)
    body = await request.body()
    message = canonical_request(request.method, _path_and_query(request.scope), body, timestamp, nonce, str(device_id))
    if not _verify_signature(key, signature, message):
        raise NotAuthenticated(INVALID)
    # only a correctly signed request spends its nonce, so nobody else can burn a device's nonces
    if not await rt.nonces.claim(device.id, nonce, 2 * skew + 60):
        raise NotAuthenticated(INVALID)
    return device


def device_actor(device: Device, token_id: str | None = None, address: str | None = None) -> Actor:
    return Actor(
        id=device.id,
        role=Role.WATCH if device.kind == DeviceKind.WATCH else Role.PHONE,
        team_id=device.team_id,
        wearer_id=device.wearer_id if device.kind == DeviceKind.WATCH else None,
        device_id=device.id,
        token_id=token_id,
        client_address=address,
    )


async def signed_device(request: Request[Any, Any, Any]) -> Actor:
    """Dependency of device routes: the device's access token AND a valid signature by the same device's key.

    Returns the device's :class:`Actor` (``device_id`` set; ``wearer_id`` set for a watch bound to a wearer)."""
    user = request.scope.get("user")
    claims = request.scope.get("auth")
    if not isinstance(user, Actor) or user.role not in DEVICE_ROLES or user.device_id is None:
        raise NotAuthenticated(INVALID)
    if request.headers.get("x-device-id", "").strip().lower() != str(user.device_id):
        raise NotAuthenticated(INVALID)
    device = await verify_signed_request(request, runtime_of(request))
    confirmation = claims.get("cnf") if isinstance(claims, dict) else None
    if not isinstance(confirmation, dict) or confirmation.get("jkt") != device.key_thumbprint:
        raise NotAuthenticated(INVALID)
    return device_actor(device, user.token_id, user.client_address)


def ensure_acts_for(actor: Actor, wearer_id: uuid.UUID) -> None:
    """A watch may act only for its own wearer; any other wearer answers 404, as if it did not exist."""
    if actor.role == Role.WATCH and actor.wearer_id != wearer_id:
        raise NotFound("no such wearer")


# ---- enrolment and lifecycle --------------------------------------------------------------------------------------


def _posture_row(device_id: uuid.UUID, posture: PostureReport) -> DevicePosture:
    return DevicePosture(
        device_id=device_id,
        reported_at=utcnow(),
        platform=posture.platform,
        os_version=posture.os_version,
        security_patch=posture.security_patch,
        encrypted=posture.encrypted,
        screen_lock=posture.screen_lock,
        rooted=posture.rooted,
        attestation_format=posture.attestation_format,
        attestation=posture.attestation,
        details=json.dumps(msgspec.to_builtins(posture.details), sort_keys=True),
    )


async def enrol_device(
    session: AsyncSession, rt: SecurityRuntime, actor: Actor, enrolment: DeviceEnrolment, request_id: str | None = None
) -> Device:
    key, algorithm = parse_public_key(enrolment.public_key)
    print_ = thumbprint(key)
    if (await session.execute(select(Device.id).where(Device.key_thumbprint == print_))).first():
        raise Conflict("a device with this key is already enrolled")
    device = Device(
        kind=enrolment.kind,
        label=enrolment.label,
        status=DeviceStatus.ACTIVE.value,
        key_algorithm=algorithm,
        public_key=spki_pem(key),
        key_thumbprint=print_,
        enrolled_by=actor.id,
        team_id=actor.team_id,
        status_changed_at=utcnow(),
    )
    session.add(device)
    await session.flush()
    session.add(_posture_row(device.id, enrolment.posture))
    await record(
        session,
        actor,
        "device.enrol",
        "device",
        device.id,
        details={
            "kind": device.kind,
            "key_algorithm": algorithm,
            "thumbprint": print_,
            "platform": enrolment.posture.platform,
        },
        key=rt.audit_key,
        request_id=request_id,
    )
    return device


def _scoped(actor: Actor) -> Any:
    statement = select(Device)
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return statement
    if actor.role == Role.FIELD_OFFICER and actor.team_id is not None:
        return statement.where(Device.team_id == actor.team_id)
    return statement.where(Device.enrolled_by == actor.id)


async def get_device(session: AsyncSession, actor: Actor, device_id: uuid.UUID) -> Device:
    device = (await session.execute(_scoped(actor).where(Device.id == device_id))).scalar_one_or_none()
    if device is None:
        raise NotFound("no such device")
    return device


async def list_devices(session: AsyncSession, actor: Actor, limit: int, offset: int) -> tuple[list[Device], int]:
    statement = _scoped(actor)
    total = (await session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = (await session.execute(statement.order_by(Device.created_at.desc()).limit(limit).offset(offset))).scalars()
    return list(rows), int(total)


async def change_status(
    session: AsyncSession,
    rt: SecurityRuntime,
    actor: Actor,
    device_id: uuid.UUID,
    status: str,
    reason: str,
    request_id: str | None = None,
) -> Device:
    device = await get_device(session, actor, device_id)
    if device.status == DeviceStatus.RETIRED and status != DeviceStatus.RETIRED:
        raise Conflict("a retired device cannot return to service; enrol it again with a new key")
    previous = device.status
    device.status = status
    device.status_changed_at = utcnow()
    if status != DeviceStatus.ACTIVE:
        await rt.revocations.revoke_subject(str(device.id), rt.settings.security.device_token_ttl_seconds, session)
    await record(
        session,
        actor,
        "device.status",
        "device",
        device.id,
        details={"from": previous, "to": status, "reason": reason},
        key=rt.audit_key,
        request_id=request_id,
    )
    return device


async def record_posture(session: AsyncSession, device_id: uuid.UUID, posture: PostureReport) -> DevicePosture:
    row = _posture_row(device_id, posture)
    session.add(row)
    device = await session.get(Device, device_id)
    if device is not None:
        device.last_seen_at = row.reported_at
    return row


async def bind_watch_to_wearer(session: AsyncSession, device_id: uuid.UUID, wearer_id: uuid.UUID | None) -> Device:
    """Link a watch to the wearer it acts for (check-in enrolment), or unlink it with ``None``. Tokens the watch
    already holds keep working, but :func:`signed_device` always reads the current link."""
    device = await session.get(Device, device_id)
    if device is None or device.kind != DeviceKind.WATCH:
        raise NotFound("no such watch")
    device.wearer_id = wearer_id
    return device


def issue_device_token(rt: SecurityRuntime, device: Device) -> tuple[str, int]:
    ttl = rt.settings.security.device_token_ttl_seconds
    token, _ = rt.tokens.issue_access_token(
        device_actor(device), ttl_seconds=ttl, confirmation={"jkt": device.key_thumbprint}
    )
    return token, ttl
