"""Command arguments only the receiving device may read: the lock's one-time code.

The centre never puts the code, or a plain hash of it, into a command: six digits fall to a
brute force of any unkeyed digest in about a second. ``lock.arm`` carries instead

    code_mac = HMAC-SHA256(key, "<task_id>:<code>"),  key = HMAC-SHA256(secret, LABEL)

keyed by the lock's own HMAC secret (which no member of staff can read: it is encrypted at
rest at the centre, and the edge holds only a key derived for its local commands,
edge/credentials.py). The lock computes the same from the code typed on its keypad and
compares in constant time.

The value is computed only when the command is signed (``wire_args``), from a ``SealedCode`` the
caller puts in the arguments; everything that keeps or shows a command (its row, its view, the
audit log, logs) sees ``SEALED`` in its place (``stored_args``). A ``SealedCode`` never prints
its code (``repr``), so a logged argument dict shows nothing either.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

LABEL = b"finedge/v1/lock-one-time-code"
SEALED = "[sealed for the device]"


def code_mac(secret: bytes, task_id: str, code: str) -> str:
    """What a lock armed for ``task_id`` compares the typed code against (hex)."""
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ValueError("secret must be non-empty bytes")
    key = hmac.new(bytes(secret), LABEL, hashlib.sha256).digest()
    return hmac.new(key, f"{task_id}:{code}".encode(), hashlib.sha256).hexdigest()


class SealedCode:
    """A one-time code for one task, to be sealed for the device the command goes to."""

    __slots__ = ("_code", "task_id")

    def __init__(self, task_id: str, code: str) -> None:
        self.task_id = task_id
        self._code = code

    def seal(self, secret: bytes) -> str:
        return code_mac(secret, self.task_id, self._code)

    def __repr__(self) -> str:
        return f"SealedCode(task_id={self.task_id!r}, code={SEALED!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedCode) and (self.task_id, self._code) == (
            other.task_id,
            other._code,
        )

    def __hash__(self) -> int:
        return hash((SealedCode, self.task_id))


def stored_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as kept and shown: each sealed value replaced by ``SEALED``."""
    return {k: SEALED if isinstance(v, SealedCode) else v for k, v in args.items()}


def wire_args(args: Mapping[str, Any], secret: bytes) -> dict[str, Any]:
    """The arguments as signed and sent: each sealed value sealed with the device's secret."""
    return {k: v.seal(secret) if isinstance(v, SealedCode) else v for k, v in args.items()}
