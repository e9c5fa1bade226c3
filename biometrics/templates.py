"""Template protection: face templates are special category data and can be inverted back into a face.

A template is stored as 128 little-endian float32 values (512 bytes; the float64 to float32 rounding changes
distances by under 1e-6), encrypted with AES-256-GCM under a fresh 96-bit nonce. The associated data binds the
subject id, the template version, the model id and the key id, so a ciphertext copied onto another wearer's
record, or relabelled with another key id, fails to decrypt. Each sealed template carries its key id; a
:class:`TemplateKeyring` holds the current key for encryption and older keys for decryption, and
:func:`reencrypt` moves a template to the current key (rotation). Deleting a key from the keyring
crypto-erases its templates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TEMPLATE_VERSION = 1
TEMPLATE_DIMENSIONS = 128
TEMPLATE_BYTES = TEMPLATE_DIMENSIONS * 4
_NONCE_BYTES = 12
_DTYPE = np.dtype("<f4")


class TemplateError(Exception):
    """A template that cannot be opened: wrong record, altered, unknown key or malformed."""


class SealedTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """What a database row stores: ``ciphertext`` is nonce || AES-GCM output (ciphertext and tag)."""

    key_id: str
    template_version: int
    model_id: str
    ciphertext: bytes


def template_to_bytes(encoding: np.ndarray) -> bytes:
    array = np.asarray(encoding)
    if array.shape != (TEMPLATE_DIMENSIONS,) or not np.all(np.isfinite(array)):
        raise TemplateError(f"a template is {TEMPLATE_DIMENSIONS} finite numbers")
    return array.astype(_DTYPE).tobytes()


def template_from_bytes(data: bytes) -> np.ndarray:
    if len(data) != TEMPLATE_BYTES:
        raise TemplateError(f"a template is {TEMPLATE_BYTES} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=_DTYPE).astype(np.float64)


class TemplateKeyring:
    """AES-256 keys by id; ``current_key_id`` encrypts, every key decrypts."""

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        if current_key_id not in keys:
            raise ValueError("the current key id is not in the keyring")
        for key_id, key in keys.items():
            if not key_id or len(key) != 32:
                raise ValueError(f"key {key_id!r} must have a non-empty id and 32 bytes")
        self._keys = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current_key_id = current_key_id

    def __repr__(self) -> str:  # never print key material
        return f"TemplateKeyring(key_ids={sorted(self._keys)}, current={self.current_key_id!r})"

    def cipher(self, key_id: str) -> AESGCM:
        try:
            return self._keys[key_id]
        except KeyError:
            raise TemplateError(f"unknown template key id {key_id!r} (deleted or never configured)") from None


def associated_data(subject_id: str, template_version: int, model_id: str, key_id: str) -> bytes:
    # A JSON array is unambiguous, unlike plain concatenation.
    return msgspec.json.encode([subject_id, template_version, model_id, key_id])


def seal(keyring: TemplateKeyring, encoding: np.ndarray, subject_id: str, model_id: str) -> SealedTemplate:
    key_id = keyring.current_key_id
    nonce = os.urandom(_NONCE_BYTES)
    aad = associated_data(subject_id, TEMPLATE_VERSION, model_id, key_id)
    ciphertext = keyring.cipher(key_id).encrypt(nonce, template_to_bytes(encoding), aad)
    return SealedTemplate(
        key_id=key_id, template_version=TEMPLATE_VERSION, model_id=model_id, ciphertext=nonce + ciphertext
    )


def open_sealed(keyring: TemplateKeyring, sealed: SealedTemplate, subject_id: str) -> np.ndarray:
    """Decrypt for ``subject_id``; :class:`TemplateError` if the template belongs elsewhere or was altered."""
    if sealed.template_version != TEMPLATE_VERSION:
        raise TemplateError(f"unsupported template version {sealed.template_version}")
    if len(sealed.ciphertext) < _NONCE_BYTES + 16:
        raise TemplateError("the sealed template is too short")
    nonce, body = sealed.ciphertext[:_NONCE_BYTES], sealed.ciphertext[_NONCE_BYTES:]
    aad = associated_data(subject_id, sealed.template_version, sealed.model_id, sealed.key_id)
    try:
        plain = keyring.cipher(sealed.key_id).decrypt(nonce, body, aad)
    except InvalidTag:
        raise TemplateError(
            "the template does not decrypt for this subject, version, model and key: "
            "it was moved from another record or altered"
        ) from None
    return template_from_bytes(plain)


def reencrypt(keyring: TemplateKeyring, sealed: SealedTemplate, subject_id: str) -> SealedTemplate:
    """Rotation: the same template under the current key (returned unchanged when already current)."""
    if sealed.key_id == keyring.current_key_id:
        return sealed
    return seal(keyring, open_sealed(keyring, sealed, subject_id), subject_id, sealed.model_id)
