"""The one Fernet box (backend/platform/crypto.py) and the purpose boxes built on it: tokens
stored before the boxes shared it still decrypt (same HKDF derivation, same labels)."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from backend.branch.cash.codes import CodeBox
from backend.branch.face.crypto import EncodingBox, FaceCryptoError
from backend.devices.secretbox import SecretBox, SecretBoxError
from backend.platform.crypto import Box, UndecryptableError, derive_key

KEY = "compat-test-secret-key-0123456789abcdef"
PURPOSES = {
    "devices": "finedge/devices/hmac-secrets/v1",
    "face": "finedge/branch/face-encodings/v1",
    "codes": "finedge/branch/cash-unlock-codes/v1",
}
# Made by the boxes as they were before backend/platform/crypto.py (each its own HKDF + Fernet).
OLD_DEVICE_SECRET = (
    "gAAAAABrEZBiVUbToaVo5NF0fqKoBaotkL4vFO8C0LXOzU9IPnUHknbF30iuvE8Qd7jOfXbQy9A-hjb3gPpW8hqbiUE"
    "znrzp9t7aenod9K5pgSETPe6hGQk="
)
OLD_UNLOCK_CODE = (
    "gAAAAABrEZBig_jnPHKVw83BjSVFhLa7ZdCVYdGahbseo5pHNxjS9Hbjqubk2wUmer3hEhJKPUKvhDZKOX6L6Ipk_tYS"
    "0Mmxcg=="
)


def _old_fernet(secret_key: str, salt: str) -> Fernet:
    """The derivation each box used on its own: HKDF-SHA256, salt = label, info = b"fernet"."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt.encode(), info=b"fernet").derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def test_tokens_stored_by_the_old_boxes_still_decrypt():
    assert SecretBox(KEY).decrypt(OLD_DEVICE_SECRET) == "device-hmac-secret"
    assert CodeBox(KEY).open(OLD_UNLOCK_CODE) == "042917"
    vector = np.arange(128, dtype="<f8") / 128
    token = _old_fernet(KEY, PURPOSES["face"]).encrypt(vector.tobytes()).decode("ascii")
    assert np.array_equal(EncodingBox(KEY).decrypt(token), vector)


@pytest.mark.parametrize("purpose", sorted(PURPOSES.values()))
def test_derivation_is_the_old_one_per_purpose(purpose):
    old = _old_fernet(KEY, purpose)
    assert Box(KEY, purpose).decrypt(old.encrypt(b"secret").decode()) == b"secret"
    assert old.decrypt(Box(KEY, purpose).encrypt(b"secret").encode()) == b"secret"


def test_each_purpose_has_its_own_key():
    keys = {derive_key(KEY, p) for p in PURPOSES.values()}
    assert len(keys) == len(PURPOSES)
    token = Box(KEY, PURPOSES["devices"]).encrypt(b"x")
    with pytest.raises(UndecryptableError):
        Box(KEY, PURPOSES["codes"]).decrypt(token)


def test_refusals():
    with pytest.raises(ValueError):
        Box("", PURPOSES["devices"])
    with pytest.raises(ValueError):
        Box(KEY, "")
    box = Box(KEY, PURPOSES["devices"])
    for bad in ("not a token", "gAAAAAB-tampered", "ünïcode"):
        with pytest.raises(UndecryptableError):
            box.decrypt(bad)
    with pytest.raises(SecretBoxError):
        SecretBox(KEY + "-other").decrypt(OLD_DEVICE_SECRET)
    assert CodeBox(KEY + "-other").open(OLD_UNLOCK_CODE) is None
    with pytest.raises(FaceCryptoError):
        EncodingBox(KEY).decrypt(CodeBox(KEY).seal("123456"))
