"""Second factor: TOTP (RFC 6238) for every staff account, and single-use recovery codes.

- TOTP secrets are stored sealed with AES-256-GCM under a key derived with HKDF-SHA256 from
  ``EMON_SECURITY_TOTP_ENCRYPTION_KEY`` (or ``EMON_SECURITY_SECRET_KEY``); the account id is the associated data, so
  a sealed secret copied onto another account does not open.
- A code is accepted for the current 30-second step (and one step either side for clock drift) only if its step is
  later than the last step accepted for the account: a seen code cannot be replayed.
- Recovery codes are random (50 bits each), shown once, stored as HMAC-SHA256 digests, and each works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import uuid
from datetime import datetime

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.settings import Settings

STEP_SECONDS = 30
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def _derive(settings: Settings, purpose: bytes) -> bytes:
    material = (settings.security.totp_encryption_key or settings.security.secret_key).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"emon-mfa-v1", info=purpose).derive(material)


class Totp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._aead = AESGCM(_derive(settings, b"totp-secret-encryption"))
        self._recovery_key = _derive(settings, b"recovery-code-digest")

    # ---- secrets ----------------------------------------------------------------------------------------------

    @staticmethod
    def new_secret() -> str:
        return pyotp.random_base32(length=32)  # 160 bits, the RFC 4226 recommendation

    def seal(self, secret: str, account_id: uuid.UUID) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), account_id.bytes)
        return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, account_id: uuid.UUID) -> str:
        version, _, payload = sealed.partition(".")
        if version != "v1":
            raise ValueError("unknown TOTP secret format")
        raw = base64.urlsafe_b64decode(payload)
        return self._aead.decrypt(raw[:12], raw[12:], account_id.bytes).decode()

    def provisioning_uri(self, secret: str, username: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=self.settings.security.totp_issuer)

    # ---- codes ------------------------------------------------------------------------------------------------

    def accepted_step(self, secret: str, code: str, last_step: int | None, now: datetime) -> int | None:
        """The time step ``code`` belongs to when it is valid now and newer than ``last_step``; else ``None``."""
        code = code.strip().replace(" ", "")
        if len(code) != 6 or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret)
        current = int(now.timestamp()) // STEP_SECONDS
        window = self.settings.security.totp_valid_window
        found: int | None = None
        for step in range(current - window, current + window + 1):
            # compare every candidate, so timing does not tell which step matched
            if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
                found = step
        if found is None or (last_step is not None and found <= last_step):
            return None
        return found

    # ---- recovery codes ---------------------------------------------------------------------------------------

    def new_recovery_codes(self) -> list[str]:
        count = self.settings.security.recovery_code_count
        codes = []
        for _ in range(count):
            raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
            codes.append(f"{raw[:5]}-{raw[5:]}")
        return codes

    def recovery_digest(self, code: str) -> str:
        normalised = code.strip().lower().replace("-", "").replace(" ", "")
        return hmac.new(self._recovery_key, normalised.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def looks_like_recovery_code(code: str) -> bool:
        return len(code.strip().replace("-", "").replace(" ", "")) == 10
