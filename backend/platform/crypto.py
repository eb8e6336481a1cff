"""Secrets at rest: one Fernet box per purpose, keyed from FINEDGE_SECRET_KEY.

Fernet is AES-128-CBC with HMAC-SHA256 (authenticated: a changed or foreign token is refused,
never decrypted into garbage). Its key is derived by HKDF-SHA256 from the process's secret key
with the purpose's own label as the salt (``info`` is b"fernet"), so a database dump alone
reveals nothing, and the key of one purpose (device HMAC secrets, face encodings, one-time
unlock codes, ...) differs from every other use of the secret. A label names one format of one
kind of secret and never changes: tokens stored under it must decrypt for as long as they exist
(the purposes' labels end in ``/v1``; a new format takes a new label).

Rotating FINEDGE_SECRET_KEY needs the old key to re-encrypt every row (MultiFernet with both
keys, then re-encrypt): a box built from the new key refuses the old tokens.

    box = Box(config.secret_key, "finedge/devices/hmac-secrets/v1")
    token = box.encrypt(b"...")       # ASCII text, safe for a String column
    box.decrypt(token)                # the bytes, or UndecryptableError

The purpose-specific boxes (``backend.devices.secretbox``, ``backend.branch.face.crypto``,
``backend.branch.cash.codes``) wrap this one with their plaintext's encoding and error.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_SIZE = 32
_INFO = b"fernet"


class UndecryptableError(RuntimeError):
    """A token cannot be decrypted with this key (another key or purpose, or a damaged row)."""


def derive_key(secret_key: str, purpose: str) -> bytes:
    """The 32-byte key of ``purpose`` (its label, the HKDF salt) from the process's secret."""
    if not secret_key:
        raise ValueError("secret_key is required")
    if not purpose:
        raise ValueError("a purpose label is required")
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=purpose.encode("utf-8"), info=_INFO
    ).derive(secret_key.encode("utf-8"))


class Box:
    """Encrypt and decrypt one purpose's secrets."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        self.purpose = purpose
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))

    def encrypt(self, plaintext: bytes) -> str:
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError):  # ValueError: not ASCII
            raise UndecryptableError(
                f"{self.purpose}: token cannot be decrypted with this key"
            ) from None
