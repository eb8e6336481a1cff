"""The clearing house's request signature (pure: no database, no Flask).

    X-Clearing-House: CCH1
    X-Timestamp:      1733300000            (Unix seconds, UTC)
    X-Nonce:          8 to 64 of A-Za-z0-9_-, never reused within the replay window
    X-Signature:      hex HMAC-SHA256(secret,
                          METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n sha256hex(body))

The simulator (``backend.clearing.sim``) signs with ``sign_headers``; the bank checks with
``check_signature`` and its own clock and nonce table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
HEADERS = ("X-Clearing-House", "X-Timestamp", "X-Nonce", "X-Signature")


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, digest)).encode("utf-8")


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_headers(
    secret: str, house: str, method: str, path: str, body: bytes, *, now: datetime, nonce=None
) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    nonce = nonce or secrets.token_hex(16)
    return {
        "X-Clearing-House": house,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": signature(secret, method, path, timestamp, nonce, body),
        "Content-Type": "application/json",
    }


def check_signature(
    secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes, given: str
) -> bool:
    expected = signature(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, (given or "").lower())


def new_secret() -> str:
    return secrets.token_hex(32)
