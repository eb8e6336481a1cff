"""The one-time code of an unlock.

Six digits from ``secrets``; the lock receives only the code sealed for it inside the signed
``lock.arm`` command (``code_mac``, an HMAC keyed by the lock's own secret: edge/protocol/sealed.py;
never an unkeyed digest, which six digits would give up to a brute force in about a second), and
the command as stored, shown and audited carries only a "[sealed for the device]" marker. The
loaders receive the code itself (live push to them, and their view of
the task while the unlock is valid). At rest the code is encrypted with the platform's Fernet box
(backend/platform/crypto.py) under this purpose's own key, and erased when the unlock is used or
expires.
"""

from __future__ import annotations

import secrets

from backend.platform.crypto import Box, UndecryptableError

PURPOSE = "finedge/branch/cash-unlock-codes/v1"  # the key's label: never changes (stored tokens)


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


class CodeBox:
    def __init__(self, secret_key: str) -> None:
        self._box = Box(secret_key, PURPOSE)

    def seal(self, code: str) -> str:
        return self._box.encrypt(code.encode())

    def open(self, token: str) -> str | None:
        """The code, or None when the token cannot be decrypted with this key."""
        try:
            return self._box.decrypt(token).decode()
        except (UndecryptableError, ValueError):  # ValueError: not UTF-8
            return None
