"""Device credentials shared by the centre, the branch edge and the devices (pure stdlib).

- MQTT passwords are stored only as hashes, in Mosquitto's own format (``mosquitto_passwd``,
  PBKDF2-HMAC-SHA512: ``$7$<iterations>$<base64 salt>$<base64 hash>``). The centre keeps the
  hash, the edge checks device logins on its embedded broker against it, and the same string
  can be written into a branch Mosquitto's password file unchanged.
- Each device has one HMAC secret (issued once by the centre). Central commands are signed
  with it. The edge never sees it: for the few commands the edge sends on its own (a rebirth
  request, a printed ticket, a called number: ``EDGE_COMMAND_TYPES``) it signs with a key
  *derived* from the secret, which the centre hands to the edge and the device derives itself.
  A compromised edge can therefore ask a device to print a ticket but never to open a lock.
- A device's MQTT password is derived from its HMAC secret (``mqtt_password_for``), so the
  centre, which keeps the secret encrypted, can hand a branch Mosquitto's dynamic security
  plugin the clear password it needs (sealed for that branch's edge, edge/sealing.py) without
  storing the password a second time. Devices provisioned before that have a random password
  no one can recover: rotating their credentials brings them onto the derived one.
- The central broker's logins (the backend and one per branch edge) have passwords derived
  from FINEDGE_SECRET_KEY (``central_login_password``): the embedded broker of ``finedge
  serve`` and the dynamic security accounts of a central Mosquitto (backend/roles/
  central_accounts.py) both use them, and an edge sharing the secret needs no password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

HASH_PREFIX = "$7$"
DEFAULT_ITERATIONS = 1000  # the password is 32 random bytes: the iteration count is no defence
_SALT_BYTES = 12
_HASH_BYTES = 64
_EDGE_KEY_LABEL = b"finedge/v1/edge-command-key"
_MQTT_PASSWORD_LABEL = b"finedge/v1/mqtt-password"
_MQTT_PASSWORD_CHARS = 32  # base64url characters: 192 bits

# Command types a device accepts when signed with the edge key (besides its own secret).
EDGE_COMMAND_TYPES = frozenset(
    {"device.rebirth", "kiosk.print_ticket", "caller.show_call", "display.show"}
)


def new_password() -> str:
    return secrets.token_urlsafe(24)


def mqtt_password_for(hmac_secret: str) -> str:
    """A device's MQTT password, derived from its HMAC secret as issued (hex): 32 base64url
    characters. Knowing it tells nothing of the secret (HMAC is one-way)."""
    digest = hmac.new(secret_bytes(hmac_secret), _MQTT_PASSWORD_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_MQTT_PASSWORD_CHARS]


def central_login_password(secret_key: str, username: str) -> str:
    """The central broker's password for ``username`` (the backend, an edge), derived from the
    secret key: the embedded broker and the central Mosquitto's dynsec accounts use it."""
    digest = hmac.new(
        secret_key.encode("utf-8"),
        f"finedge/v1/central-mqtt-login/{username}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def new_hmac_secret() -> str:
    """64 hex characters (32 bytes); devices use ``bytes.fromhex`` of it as the HMAC key."""
    return secrets.token_hex(32)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _HASH_BYTES)
    return (
        f"{HASH_PREFIX}{iterations}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def verify_password(password_hash: str, password: str | None) -> bool:
    """Constant-time check of ``password`` against a ``$7$`` hash; malformed hashes fail."""
    if not password or not isinstance(password_hash, str):
        return False
    parts = password_hash.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    if not 1 <= iterations <= 1_000_000 or not expected:
        return False
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode("utf-8"), salt, iterations, len(expected)
    )
    return hmac.compare_digest(digest, expected)


def secret_bytes(hmac_secret: str) -> bytes:
    """The HMAC key of a device from its secret as issued (hex)."""
    return bytes.fromhex(hmac_secret)


def derive_edge_key(secret: bytes) -> bytes:
    """The key the edge signs its local commands with: HMAC-SHA256(secret, label)."""
    if not secret:
        raise ValueError("secret must be non-empty bytes")
    return hmac.new(secret, _EDGE_KEY_LABEL, hashlib.sha256).digest()
