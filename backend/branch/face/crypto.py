"""Face encodings encrypted at rest: the platform's Fernet box (backend/platform/crypto.py)
under this purpose's own key, so a database dump alone reveals no biometric data and the key
differs from every other use of FINEDGE_SECRET_KEY.

The plaintext is the 128 float64 values, little-endian. Encodings are never logged: nothing
here formats one into a message or an exception.
"""

from __future__ import annotations

import numpy as np

from backend.branch.face.vectors import ENCODING_SIZE, check
from backend.platform.crypto import Box, UndecryptableError

__all__ = ["ENCODING_SIZE", "EncodingBox", "FaceCryptoError"]
PURPOSE = "finedge/branch/face-encodings/v1"  # the key's label: never changes (stored tokens)
_DTYPE = np.dtype("<f8")


class FaceCryptoError(RuntimeError):
    """A stored encoding cannot be decrypted (another key, or a damaged row)."""


class EncodingBox:
    def __init__(self, secret_key: str) -> None:
        self._box = Box(secret_key, PURPOSE)

    def encrypt(self, encoding: np.ndarray) -> str:
        """Every stored encoding comes through here: InvalidEncoding (a ValueError) unless it
        passes vectors.check (128 finite numbers of a face's norm)."""
        vector = check(encoding).astype(_DTYPE)
        return self._box.encrypt(vector.tobytes())

    def decrypt(self, token: str) -> np.ndarray:
        try:
            raw = self._box.decrypt(token)
        except UndecryptableError:
            raise FaceCryptoError("face encoding cannot be decrypted with this key") from None
        if len(raw) != ENCODING_SIZE * _DTYPE.itemsize:
            raise FaceCryptoError("face encoding has the wrong size")
        return np.frombuffer(raw, dtype=_DTYPE).copy()
