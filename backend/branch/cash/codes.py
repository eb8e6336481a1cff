"""The one-time code of an unlock.

Six digits from ``secrets``; the lock receives only sha256("<task ref>:<code>") inside the signed
``lock.arm`` command, the loaders receive the code itself (live push to them, and their view of
the task while the unlock is valid). At rest the code is Fernet-encrypted (key derived from
FINEDGE_SECRET_KEY under its own salt) and erased when the unlock is used or expires.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"finedge/branch/cash-unlock-codes/v1"


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def code_digest(task_ref: str, code: str) -> str:
    return hashlib.sha256(f"{task_ref}:{code}".encode()).hexdigest()


class CodeBox:
    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"fernet").derive(
            secret_key.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, code: str) -> str:
        return self._fernet.encrypt(code.encode()).decode("ascii")

    def open(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            return None
