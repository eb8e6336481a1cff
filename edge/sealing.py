"""Device MQTT passwords sealed by the centre for one branch's edge.

A branch Mosquitto with the dynamic security plugin stores its own salted hashes and takes a
new client's password only in clear (Mosquitto 2.0's ``createClient`` / ``modifyClient``; there
is no way to hand it a ``$7$`` hash over its control topic). So the registry the centre syncs
to an edge carries, next to each device's ``$7$`` hash, its password *sealed* for that edge
(``password_sealed``): Fernet (AES-128-CBC + HMAC-SHA256) under a key only the centre and that
edge can derive, from the edge's own central login password:

    key = HKDF-SHA256(ikm = edge's central password, salt = LABEL, info = edge login)

The clear password therefore exists nowhere at rest: not in the centre's database (it is
derived from the device's encrypted HMAC secret, edge/credentials.py), not in the central
broker's retained registry or its persistence file, not in the edge's SQLite store (sealed),
and not in the branch broker's dynsec file (its own PBKDF2 hash). The edge opens a sealed
password only to hand it to the plugin, over its admin connection (TLS in deployment), and
checks it against the registry's hash first (``open_password``).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from edge.credentials import verify_password

LABEL = b"finedge/v1/registry-mqtt-passwords"


class SealError(ValueError):
    """A sealed password cannot be opened with this key, or does not match its hash."""


def seal_key(edge_password: str, edge_login: str) -> bytes:
    """The Fernet key of one edge's sealed passwords (urlsafe base64, as Fernet takes it)."""
    if not edge_password or not edge_login:
        raise ValueError("the edge's central password and login are required")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=LABEL, info=edge_login.encode()).derive(
        edge_password.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


def seal(key: bytes, password: str) -> str:
    return Fernet(key).encrypt(password.encode("utf-8")).decode("ascii")


def unseal(key: bytes, token: str) -> str:
    try:
        return Fernet(key).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SealError("sealed password cannot be opened with this edge's key") from None


def open_password(key: bytes, token: str, password_hash: str | None) -> str:
    """The clear password of a sealed one, checked against the registry's ``$7$`` hash (so a
    password that is not the device's never reaches the broker); SealError otherwise."""
    password = unseal(key, token)
    if not password_hash or not verify_password(password_hash, password):
        raise SealError("sealed password does not match the device's password hash")
    return password
