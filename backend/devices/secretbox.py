"""Device HMAC secrets encrypted at rest (the platform's Fernet box, backend/platform/crypto.py,
under this purpose's own key), so a database dump alone reveals no device secret. Rotating
FINEDGE_SECRET_KEY therefore needs the old key to re-encrypt (MultiFernet with both keys, then
re-encrypt every row).
"""

from __future__ import annotations

from backend.platform.crypto import Box, UndecryptableError

PURPOSE = "finedge/devices/hmac-secrets/v1"  # the key's label: never changes (stored tokens)


class SecretBoxError(UndecryptableError):
    """A stored secret cannot be decrypted (wrong FINEDGE_SECRET_KEY or a corrupted row)."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        self._box = Box(secret_key, PURPOSE)
        # The registry seals device passwords for each edge under a key derived from the
        # edge's central login password, itself derived from this secret (edge/sealing.py).
        self.secret_key = secret_key

    def encrypt(self, plaintext: str) -> str:
        return self._box.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: str) -> str:
        try:
            return self._box.decrypt(token).decode("utf-8")
        except (UndecryptableError, ValueError):  # ValueError: not UTF-8
            raise SecretBoxError("device secret cannot be decrypted with this key") from None
