"""Access tokens: short-lived JWTs signed with an asymmetric key (EdDSA or ES256), verified by pinned ``kid``.

Keys live as PEM files in ``EMON_SECURITY_JWT_KEYS_DIR``: ``<kid>.pem`` private keys. The current signing key is
named in ``current`` (or is the newest file); the others only verify, so a rotated key keeps its tokens valid until
they expire. In development a key is generated when the folder is empty; production refuses to start without one.

Rotating a key (``rotate_key``, or by hand): write the new ``<kid>.pem``, then write its kid into ``current`` (one line,
the kid only) and restart the instances. Tokens signed with the old key still verify; once the longest token
lifetime has passed (``EMON_SECURITY_ACCESS_TOKEN_TTL_SECONDS``), delete the old ``.pem``.

Verification accepts only the configured algorithm (never ``none`` or an HMAC), only a ``kid`` of the key ring,
and requires ``exp``, ``iat``, ``nbf``, ``iss``, ``aud``, ``sub`` and ``jti``. Revocation is checked by the
authentication middleware (``security.revocation``). The MFA challenge between the password and the second factor
is a token of the same kind with its own audience, so it can never pass as an access token.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.clock import utcnow
from core.errors import NotAuthenticated
from core.settings import Settings
from security.actor import Actor, Role

_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class SigningKeyError(Exception):
    pass


@dataclass(frozen=True)
class KeyRing:
    algorithm: str
    current_kid: str
    private_keys: dict[str, PrivateKey]

    @property
    def public_keys(self) -> dict[str, PublicKey]:
        return {kid: key.public_key() for kid, key in self.private_keys.items()}


def generate_key(algorithm: str) -> PrivateKey:
    return ed25519.Ed25519PrivateKey.generate() if algorithm == "EdDSA" else ec.generate_private_key(ec.SECP256R1())


def write_key(directory: Path, kid: str, key: PrivateKey) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{kid}.pem"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


def rotate_key(directory: Path, algorithm: str) -> str:
    """Add a new signing key and make it current; returns its kid. Running instances pick it up on restart."""
    kid = utcnow().strftime("k%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    write_key(directory, kid, generate_key(algorithm))
    current = directory / "current"
    current.write_text(kid + "\n")
    current.chmod(0o600)
    return kid


def load_keyring(settings: Settings) -> KeyRing:
    algorithm = settings.security.jwt_algorithm
    directory = Path(settings.security.jwt_keys_dir)
    files = sorted(directory.glob("*.pem"), key=lambda p: p.stat().st_mtime) if directory.is_dir() else []
    if not files:
        if settings.is_production:
            raise SigningKeyError(f"no JWT signing key in EMON_SECURITY_JWT_KEYS_DIR ({directory.name})")
        kid = "dev-" + uuid.uuid4().hex[:8]
        write_key(directory, kid, generate_key(algorithm))
        files = [directory / f"{kid}.pem"]
    keys: dict[str, PrivateKey] = {}
    for path in files:
        kid = path.stem
        if not _KID.match(kid):
            raise SigningKeyError(f"JWT key file name {path.name!r} is not a valid key id")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if algorithm == "EdDSA" and not isinstance(key, ed25519.Ed25519PrivateKey):
            raise SigningKeyError(f"JWT key {kid} is not an Ed25519 key but EMON_SECURITY_JWT_ALGORITHM is EdDSA")
        if algorithm == "ES256" and not (isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"):
            raise SigningKeyError(f"JWT key {kid} is not a P-256 key but EMON_SECURITY_JWT_ALGORITHM is ES256")
        keys[kid] = key  # type: ignore[assignment]
    current_file = directory / "current"
    current = current_file.read_text().strip() if current_file.is_file() else files[-1].stem
    if current not in keys:
        raise SigningKeyError(f"the current JWT key {current!r} has no key file")
    return KeyRing(algorithm=algorithm, current_kid=current, private_keys=keys)


LEEWAY_SECONDS = 5
VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenService:
    settings: Settings
    keyring: KeyRing
    # Access tokens this process has already verified (the exact token text -> its claims). A client presents the
    # same token on every request for its life; parsing and checking its signature once is enough, while its times
    # are still checked on every use. Revocation is checked separately, on every request.
    _verified: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def mfa_audience(self) -> str:
        return self.settings.security.jwt_audience + ":mfa"

    def _sign(self, claims: dict[str, Any]) -> str:
        key = self.keyring.private_keys[self.keyring.current_kid]
        return jwt.encode(claims, key, algorithm=self.keyring.algorithm, headers={"kid": self.keyring.current_kid})

    def _base_claims(self, subject: str, ttl_seconds: int, audience: str) -> dict[str, Any]:
        now = utcnow()
        return {
            "iss": self.settings.security.jwt_issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=ttl_seconds),
            "jti": uuid.uuid4().hex,
        }

    def issue_mfa_challenge(self, account_id: uuid.UUID) -> str:
        """Proof that the password step passed, good for the second factor only and only briefly."""
        ttl = self.settings.security.mfa_challenge_ttl_seconds
        return self._sign(self._base_claims(str(account_id), ttl, self.mfa_audience))

    def verify_mfa_challenge(self, token: str) -> dict[str, Any]:
        return self._verify(token, self.mfa_audience)

    def issue_access_token(
        self, actor: Actor, *, ttl_seconds: int | None = None, confirmation: dict[str, str] | None = None
    ) -> tuple[str, str]:
        """A signed access token for ``actor`` and its ``jti``. ``confirmation`` (the ``cnf`` claim) binds the token
        to a key the caller must also prove it holds, e.g. ``{"jkt": <device key thumbprint>}``."""
        ttl = ttl_seconds or self.settings.security.access_token_ttl_seconds
        claims = self._base_claims(str(actor.id), ttl, self.settings.security.jwt_audience)
        jti = claims["jti"]
        claims["role"] = actor.role.value
        if confirmation:
            claims["cnf"] = confirmation
        if actor.team_id:
            claims["team"] = str(actor.team_id)
        if actor.wearer_id:
            claims["wearer"] = str(actor.wearer_id)
        if actor.device_id:
            claims["device"] = str(actor.device_id)
        return self._sign(claims), jti

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Claims of a valid token; :class:`NotAuthenticated` for anything else (one message for all)."""
        known = self._verified.get(token)
        if known is not None:
            now = time.time()
            if int(known["nbf"]) - LEEWAY_SECONDS <= now < int(known["exp"]) + LEEWAY_SECONDS:
                return dict(known)
            self._verified.pop(token, None)
            raise NotAuthenticated("invalid token")
        claims = self._verify(token, self.settings.security.jwt_audience)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            now = time.time()
            for stale in [t for t, c in self._verified.items() if int(c["exp"]) + LEEWAY_SECONDS <= now]:
                del self._verified[stale]
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
        self._verified[token] = dict(claims)
        return claims

    def _verify(self, token: str, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != self.keyring.algorithm or not isinstance(kid, str):
                raise NotAuthenticated("invalid token")
            public = self.keyring.public_keys.get(kid)
            if public is None:
                raise NotAuthenticated("invalid token")
            return jwt.decode(
                token,
                public,
                algorithms=[self.keyring.algorithm],
                audience=audience,
                issuer=self.settings.security.jwt_issuer,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError:
            raise NotAuthenticated("invalid token") from None


def actor_from_claims(claims: dict[str, Any], client_address: str | None = None) -> Actor:
    def optional_uuid(name: str) -> uuid.UUID | None:
        value = claims.get(name)
        return uuid.UUID(value) if value else None

    try:
        return Actor(
            id=uuid.UUID(claims["sub"]),
            role=Role(claims["role"]),
            team_id=optional_uuid("team"),
            wearer_id=optional_uuid("wearer"),
            device_id=optional_uuid("device"),
            token_id=claims["jti"],
            client_address=client_address,
        )
    except (KeyError, ValueError):
        raise NotAuthenticated("invalid token") from None
