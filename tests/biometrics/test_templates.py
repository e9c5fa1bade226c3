"""Templates are stored as 512 bytes of float32, sealed with AES-256-GCM bound to their record and key."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from biometrics.engine import MODEL_ID
from biometrics.templates import (
    TEMPLATE_BYTES,
    SealedTemplate,
    TemplateError,
    TemplateKeyring,
    open_sealed,
    reencrypt,
    seal,
    template_from_bytes,
    template_to_bytes,
)

WEARER = "0193a6f0-7c1e-7000-8000-000000000001"
OTHER_WEARER = "0193a6f0-7c1e-7000-8000-000000000002"


def encoding(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, 128)


@pytest.fixture
def keyring() -> TemplateKeyring:
    return TemplateKeyring({"k1": os.urandom(32)}, current_key_id="k1")


def test_a_template_is_512_bytes_of_little_endian_float32() -> None:
    data = template_to_bytes(encoding())
    assert len(data) == TEMPLATE_BYTES == 512
    assert np.frombuffer(data, "<f4")[0] == np.float32(encoding()[0])


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, 128, elements=st.floats(-1, 1, allow_nan=False)))
def test_storage_rounding_moves_distances_by_less_than_a_millionth(values: np.ndarray) -> None:
    restored = template_from_bytes(template_to_bytes(values))
    assert np.linalg.norm(restored - values) < 1e-6


def test_a_sealed_template_opens_for_its_own_record(keyring: TemplateKeyring) -> None:
    sealed = seal(keyring, encoding(), WEARER, MODEL_ID)
    assert sealed.key_id == "k1"
    assert template_to_bytes(encoding()) not in sealed.ciphertext
    np.testing.assert_allclose(open_sealed(keyring, sealed, WEARER), encoding(), atol=1e-6)


def test_each_seal_uses_a_fresh_nonce(keyring: TemplateKeyring) -> None:
    first, second = seal(keyring, encoding(), WEARER, MODEL_ID), seal(keyring, encoding(), WEARER, MODEL_ID)
    assert first.ciphertext[:12] != second.ciphertext[:12]


def test_a_template_moved_to_another_wearer_does_not_decrypt(keyring: TemplateKeyring) -> None:
    sealed = seal(keyring, encoding(), WEARER, MODEL_ID)
    with pytest.raises(TemplateError, match="moved from another record"):
        open_sealed(keyring, sealed, OTHER_WEARER)


def test_a_template_relabelled_with_another_model_or_key_does_not_decrypt() -> None:
    keyring = TemplateKeyring({"k1": os.urandom(32), "k2": os.urandom(32)}, current_key_id="k1")
    sealed = seal(keyring, encoding(), WEARER, MODEL_ID)
    relabelled_model = SealedTemplate(
        key_id="k1", template_version=1, model_id="another-model", ciphertext=sealed.ciphertext
    )
    with pytest.raises(TemplateError):
        open_sealed(keyring, relabelled_model, WEARER)
    relabelled_key = SealedTemplate(key_id="k2", template_version=1, model_id=MODEL_ID, ciphertext=sealed.ciphertext)
    with pytest.raises(TemplateError):
        open_sealed(keyring, relabelled_key, WEARER)


def test_a_tampered_ciphertext_does_not_decrypt(keyring: TemplateKeyring) -> None:
    sealed = seal(keyring, encoding(), WEARER, MODEL_ID)
    flipped = bytearray(sealed.ciphertext)
    flipped[20] ^= 1
    with pytest.raises(TemplateError):
        open_sealed(
            keyring,
            SealedTemplate(key_id="k1", template_version=1, model_id=MODEL_ID, ciphertext=bytes(flipped)),
            WEARER,
        )


def test_rotation_reencrypts_under_the_current_key_and_old_keys_still_decrypt() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = TemplateKeyring({"2025": old_key}, current_key_id="2025")
    sealed = seal(before, encoding(), WEARER, MODEL_ID)
    after = TemplateKeyring({"2025": old_key, "2026": new_key}, current_key_id="2026")
    np.testing.assert_allclose(open_sealed(after, sealed, WEARER), encoding(), atol=1e-6)
    rotated = reencrypt(after, sealed, WEARER)
    assert rotated.key_id == "2026"
    assert reencrypt(after, rotated, WEARER) is rotated
    only_new = TemplateKeyring({"2026": new_key}, current_key_id="2026")
    np.testing.assert_allclose(open_sealed(only_new, rotated, WEARER), encoding(), atol=1e-6)
    with pytest.raises(TemplateError, match="unknown template key id"):
        open_sealed(only_new, sealed, WEARER)  # deleting the old key erased what it protected


def test_a_keyring_refuses_short_keys_and_never_shows_them() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TemplateKeyring({"k": b"short"}, current_key_id="k")
    key = os.urandom(32)
    assert key.hex() not in repr(TemplateKeyring({"k": key}, current_key_id="k"))


def test_malformed_templates_are_refused() -> None:
    with pytest.raises(TemplateError):
        template_to_bytes(np.zeros(127))
    with pytest.raises(TemplateError):
        template_to_bytes(np.full(128, np.nan))
    with pytest.raises(TemplateError):
        template_from_bytes(b"\x00" * 511)
