"""Signed commands and their acknowledgements.

A command is an envelope with ``expires_at``, a random ``nonce`` and ``sig``: HMAC-SHA256 over
the canonical JSON of the envelope without ``sig``, with the device's secret (or, for the few
commands the edge sends itself, a key derived from it: edge/credentials.py). A device verifies
schema, signature, expiry and then replay (``NonceCache``) before anything acts, and answers on
``ack`` with ``cmd.ack``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.protocol.envelope import (
    DEFAULT_MAX_BYTES,
    UUID_RE,
    Envelope,
    canonical_json,
    format_ts,
    loads_strict,
    make_envelope,
    now_or_utc,
    validate_envelope_dict,
)
from edge.protocol.errors import ProtocolError

ACK_STATUSES = frozenset({"ok", "rejected", "failed"})
DEFAULT_COMMAND_TTL_S = 120.0


def _signing_bytes(envelope: Mapping[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in envelope.items() if k != "sig"})


def compute_signature(envelope: Mapping[str, Any], secret: bytes) -> str:
    """HMAC-SHA256 (hex) over the canonical JSON of the envelope without ``sig``."""
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise ValueError("secret must be non-empty bytes")
    return hmac.new(bytes(secret), _signing_bytes(envelope), hashlib.sha256).hexdigest()


def sign_command(envelope: Mapping[str, Any], secret: bytes) -> dict[str, Any]:
    """A copy of the envelope dict with ``sig`` set (any old ``sig`` is ignored and replaced)."""
    signed = {k: v for k, v in envelope.items() if k != "sig"}
    signed["sig"] = compute_signature(signed, secret)
    return signed


def make_command(
    type: str,
    data: Mapping[str, Any] | None,
    seq: int,
    secret: bytes,
    ttl_s: float = DEFAULT_COMMAND_TTL_S,
    now: datetime | None = None,
) -> Envelope:
    """A signed command envelope: ``expires_at`` = now + ttl_s, a random ``nonce`` and ``sig``."""
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    current = now_or_utc(now)
    env = make_envelope(type, data, seq, now=current)
    env = env.replace(
        expires_at=format_ts(current + timedelta(seconds=ttl_s)), nonce=secrets.token_hex(16)
    )
    signed = sign_command(env.to_dict(), secret)
    return env.replace(sig=signed["sig"])


def verify_command(
    payload: Mapping[str, Any] | Envelope | bytes | bytearray,
    secret: bytes,
    *,
    now: datetime | None = None,
    seen_nonce: Callable[[str], bool],
    max_skew_s: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Envelope:
    """Check a command as a device must: schema, signature, expiry, then replay.

    ``seen_nonce(nonce)`` must record the nonce and return True when it had been seen before
    (NonceCache does exactly that). It is consulted only after the signature and the expiry
    have been checked, so forged or stale commands cannot fill the device's nonce memory.

    Codes: bad_signature (missing or wrong sig, or no nonce/expires_at), expired, replayed,
    and the envelope schema codes. The clock check on ``ts`` is off by default: ``expires_at``
    is what bounds a command's life.
    """
    if isinstance(payload, bytes | bytearray):
        obj: object = loads_strict(payload, max_bytes=max_bytes)
    elif isinstance(payload, Envelope):
        obj = payload.to_dict()
    else:
        obj = dict(payload)
    current = now_or_utc(now)
    env = validate_envelope_dict(obj, now=current, max_skew_s=max_skew_s)
    assert isinstance(obj, dict)
    if env.sig is None:
        raise ProtocolError("bad_signature", "command is not signed")
    if env.nonce is None or env.expires_at is None:
        raise ProtocolError("bad_signature", "command lacks nonce or expires_at")
    expected = compute_signature(obj, secret)
    if not hmac.compare_digest(expected, env.sig):
        raise ProtocolError("bad_signature", "signature does not match")
    expires = env.expires
    assert expires is not None
    if expires <= current:
        raise ProtocolError("expired", f"command expired at {env.expires_at}")
    if seen_nonce(env.nonce):
        raise ProtocolError("replayed", f"nonce {env.nonce} was seen before")
    return env


class NonceCache:
    """Thread-safe memory of seen nonces: ``cache(nonce)`` -> True if seen before.

    Entries are kept ``ttl_s`` (longer than any command's time to live, so an entry never
    leaves while its command could still be valid) and at most ``max_entries`` (oldest leave
    first; the cap bounds memory on a small device).
    """

    def __init__(
        self,
        ttl_s: float = 3600.0,
        max_entries: int = 100_000,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ttl = timedelta(seconds=ttl_s)
        self.max_entries = max_entries
        self._clock = clock or (lambda: datetime.now(UTC))
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, nonce: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at < self.ttl and len(self._seen) < self.max_entries:
                    break
                del self._seen[oldest]
            if nonce in self._seen:
                return True
            self._seen[nonce] = now
            return False

    def __len__(self) -> int:
        return len(self._seen)


# --------------------------------------------------------------------------- acks


@dataclass(frozen=True)
class Ack:
    command_id: str
    status: str
    reason: str = ""


def make_ack(
    command_id: str, status: str, reason: str, seq: int, now: datetime | None = None
) -> Envelope:
    """A device's answer on ``ack``: an envelope of type ``cmd.ack`` whose data is the
    contract's ``{"id":"<cmd id>","status":"ok|rejected|failed","reason":"…"}``."""
    if status not in ACK_STATUSES:
        raise ValueError(f"status must be one of {sorted(ACK_STATUSES)}")
    return make_envelope(
        "cmd.ack", {"id": command_id, "status": status, "reason": reason}, seq, now=now
    )


def parse_ack(envelope: Envelope) -> Ack:
    data = envelope.data
    command_id, status, reason = data.get("id"), data.get("status"), data.get("reason", "")
    if not isinstance(command_id, str) or not UUID_RE.fullmatch(command_id):
        raise ProtocolError("bad_ack", "ack data.id must be the command's uuid")
    if status not in ACK_STATUSES:
        raise ProtocolError("bad_ack", f"ack status must be one of {sorted(ACK_STATUSES)}")
    if not isinstance(reason, str):
        raise ProtocolError("bad_ack", "ack reason must be a string")
    return Ack(command_id, status, reason)
