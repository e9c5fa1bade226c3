"""Keys for templates and stored photos, from ``EMON_BIOMETRICS_TEMPLATE_KEYS`` (``kid:base64key,...``; the first
is current, the others only decrypt).

In development, when the setting is empty, a key is derived deterministically from ``EMON_SECURITY_SECRET_KEY``
(HKDF-SHA256) under the key id ``dev-derived`` and a warning is logged: data sealed with it is as safe as the
development secret, i.e. not at all. Production refuses to start with the setting empty (``core.settings``).

Photos are sealed with AES-256-GCM under a subkey of the same key (HKDF, another context), so a template key and
a photo key are never the same bytes, and the associated data binds the photo to its row, wearer and hash.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from biometrics.templates import TemplateKeyring
from core.settings import Settings

DEV_KEY_ID = "dev-derived"
_NONCE = 12


class KeyConfigError(ValueError):
    pass


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def parse_keys(value: str) -> list[tuple[str, bytes]]:
    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep or not kid:
            raise KeyConfigError("EMON_BIOMETRICS_TEMPLATE_KEYS entries are kid:base64key")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise KeyConfigError(f"template key {kid!r} is not valid base64") from None
        if len(raw) != 32:
            raise KeyConfigError(f"template key {kid!r} must be 32 bytes (AES-256)")
        keys.append((kid, raw))
    return keys


def _raw_keys(settings: Settings) -> tuple[list[tuple[str, bytes]], bool]:
    keys = parse_keys(settings.biometrics.template_keys)
    if keys:
        return keys, False
    if settings.is_production:
        raise KeyConfigError("EMON_BIOMETRICS_TEMPLATE_KEYS is empty")
    derived = _hkdf(settings.security.secret_key.encode(), b"emon.checkin.dev-template-key.v1")
    return [(DEV_KEY_ID, derived)], True


class CheckinKeys:
    """The template keyring and the photo cipher, both from the configured keys."""

    def __init__(self, settings: Settings) -> None:
        keys, self.derived_for_development = _raw_keys(settings)
        self.current_key_id = keys[0][0]
        self.templates = TemplateKeyring(dict(keys), current_key_id=self.current_key_id)
        self._photo = {kid: AESGCM(_hkdf(key, b"emon.checkin.photo.v1")) for kid, key in keys}

    def __repr__(self) -> str:
        return f"CheckinKeys(current={self.current_key_id!r})"

    def seal_photo(self, data: bytes, aad: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE)
        return self.current_key_id, nonce + self._photo[self.current_key_id].encrypt(nonce, data, aad)

    def open_photo(self, key_id: str, blob: bytes, aad: bytes) -> bytes:
        cipher = self._photo.get(key_id)
        if cipher is None:
            raise KeyConfigError(f"unknown photo key id {key_id!r}")
        try:
            return cipher.decrypt(blob[:_NONCE], blob[_NONCE:], aad)
        except InvalidTag:
            raise KeyConfigError("the photo does not decrypt for this record") from None


_cache: dict[tuple[str, str, bool], CheckinKeys] = {}


def keys_for(settings: Settings) -> CheckinKeys:
    """The keys of these settings, built once per process."""
    marker = (settings.biometrics.template_keys, settings.security.secret_key, settings.is_production)
    if marker not in _cache:
        _cache[marker] = CheckinKeys(settings)
    return _cache[marker]


def photo_aad(image_id: str, wearer_id: str, sha256: str) -> bytes:
    return f"emon.checkin.photo|{image_id}|{wearer_id}|{sha256}".encode()
