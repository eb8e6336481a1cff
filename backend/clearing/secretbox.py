"""Clearing houses' HMAC secrets encrypted at rest, as device secrets are
(backend/devices/secretbox.py): the platform's Fernet box under this purpose's own key."""

from __future__ import annotations

from backend.platform.crypto import Box, UndecryptableError

PURPOSE = "finedge/clearing/hmac-secrets/v1"  # the key's label: never changes (stored tokens)


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        self._box = Box(secret_key, PURPOSE)

    def encrypt(self, plaintext: str) -> str:
        return self._box.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: str) -> str:
        try:
            return self._box.decrypt(token).decode("utf-8")
        except (UndecryptableError, ValueError):
            raise UndecryptableError("clearing house secret cannot be decrypted") from None
