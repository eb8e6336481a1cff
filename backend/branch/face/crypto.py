"""Face encodings encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived by
HKDF-SHA256 from FINEDGE_SECRET_KEY under this module's own salt, so a database dump alone
reveals no biometric data and the key differs from every other use of the secret.

The plaintext is the 128 float64 values, little-endian. Encodings are never logged: nothing
here formats one into a message or an exception.
"""

from __future__ import annotations

import base64

import numpy as np
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENCODING_SIZE = 128
_SALT = b"finedge/branch/face-encodings/v1"
_DTYPE = np.dtype("<f8")


class FaceCryptoError(RuntimeError):
    """A stored encoding cannot be decrypted (another key, or a damaged row)."""


class EncodingBox:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("secret_key is required")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"fernet").derive(
            secret_key.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, encoding: np.ndarray) -> str:
        vector = np.asarray(encoding, dtype=_DTYPE).reshape(-1)
        if vector.shape != (ENCODING_SIZE,) or not np.all(np.isfinite(vector)):
            raise ValueError("a face encoding is 128 finite numbers")
        return self._fernet.encrypt(vector.tobytes()).decode("ascii")

    def decrypt(self, token: str) -> np.ndarray:
        try:
            raw = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError):
            raise FaceCryptoError("face encoding cannot be decrypted with this key") from None
        if len(raw) != ENCODING_SIZE * _DTYPE.itemsize:
            raise FaceCryptoError("face encoding has the wrong size")
        return np.frombuffer(raw, dtype=_DTYPE).copy()
