"""Device HMAC secrets encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived by HKDF-SHA256 from FINEDGE_SECRET_KEY, so
a database dump alone reveals no device secret. Rotating FINEDGE_SECRET_KEY therefore needs the
old key to re-encrypt (MultiFernet with both keys, then re-encrypt every row).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"finedge/devices/hmac-secrets/v1"


class SecretBoxError(RuntimeError):
    """A stored secret cannot be decrypted (wrong FINEDGE_SECRET_KEY or a corrupted row)."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("secret_key is required")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"fernet").derive(
            secret_key.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise SecretBoxError("device secret cannot be decrypted with this key") from exc
