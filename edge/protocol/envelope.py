"""The JSON envelope of every message, its canonical bytes and its timestamps.

Envelope: {"id":"<uuid>","ts":"<RFC 3339 UTC>","seq":<int>,"type":"<dotted.name>","data":{…}}
          commands add "expires_at", "nonce" and "sig" (commands.py); replays from an outbox may
          add "historical": true (the Sparkplug idea: a replayed message says so).

Canonical JSON (sorted keys, no spaces, UTF-8) is what gets signed, so whoever encodes an
envelope gets the same bytes. Decoding is strict: a size limit, UTF-8, no NaN, no duplicate
keys, no unknown fields. No clock of its own: what needs the time takes ``now``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edge.protocol.errors import ProtocolError

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_SKEW_S = 300.0
MAX_SEQ = 2**63 - 1

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TYPE_RE = re.compile(r"[a-z][a-z0-9_\-]*(\.[a-z][a-z0-9_\-]*)+")
_NONCE_RE = re.compile(r"[A-Za-z0-9_\-]{8,128}")
_SIG_RE = re.compile(r"[0-9a-f]{64}")
_RFC3339_UTC_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:[Zz]|[+\-]00:00)"
)
_MAX_TYPE_LEN = 128

_REQUIRED_FIELDS = ("id", "ts", "seq", "type", "data")
_OPTIONAL_FIELDS = ("expires_at", "nonce", "sig", "historical")
_ALL_FIELDS = frozenset(_REQUIRED_FIELDS + _OPTIONAL_FIELDS)


# --------------------------------------------------------------------------- canonical JSON


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN/Infinity: the bytes that get signed.

    Floats are serialised by Python's repr, which another language may render differently;
    signed command arguments should therefore use strings and integers (money is a decimal
    string anyway).
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# --------------------------------------------------------------------------- time


def format_ts(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a ``Z``: ``2025-01-31T08:00:00.123Z``."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: time is timezone-aware UTC inside")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(value: object, *, field_name: str = "ts") -> datetime:
    """Parse an RFC 3339 timestamp that must be in UTC (``Z`` or ``+00:00``)."""
    code = f"bad_{field_name}"
    if not isinstance(value, str):
        raise ProtocolError(code, f"{field_name} must be an RFC 3339 UTC string")
    match = _RFC3339_UTC_RE.fullmatch(value)
    if not match:
        raise ProtocolError(code, f"{field_name} {value[:40]!r} is not RFC 3339 UTC")
    date_part, time_part, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime.fromisoformat(f"{date_part}T{time_part}").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ProtocolError(code, f"{field_name} {value!r}: {exc}") from None
    return parsed.replace(microsecond=micro)


def now_or_utc(now: datetime | None) -> datetime:
    """``now`` (which must be timezone-aware), or the system clock when it is None."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


# --------------------------------------------------------------------------- envelope


@dataclass(frozen=True)
class Envelope:
    id: str
    ts: str
    seq: int
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    expires_at: str | None = None
    nonce: str | None = None
    sig: str | None = None
    historical: bool | None = None

    @property
    def timestamp(self) -> datetime:
        return parse_ts(self.ts)

    @property
    def expires(self) -> datetime | None:
        return (
            None if self.expires_at is None else parse_ts(self.expires_at, field_name="expires_at")
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object on the wire; optional fields appear only when set."""
        out: dict[str, Any] = {
            "id": self.id,
            "ts": self.ts,
            "seq": self.seq,
            "type": self.type,
            "data": self.data,
        }
        for name in _OPTIONAL_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def replace(self, **changes: Any) -> Envelope:
        return dataclasses.replace(self, **changes)


def make_envelope(
    type: str,
    data: Mapping[str, Any] | None,
    seq: int,
    now: datetime | None = None,
    *,
    historical: bool | None = None,
) -> Envelope:
    """A fresh, valid envelope with a random uuid4 id."""
    env = Envelope(
        id=str(uuid.uuid4()),
        ts=format_ts(now_or_utc(now)),
        seq=seq,
        type=type,
        data=dict(data or {}),
        historical=historical,
    )
    validate_envelope_dict(env.to_dict(), now=None, max_skew_s=None)
    return env


def encode(envelope: Envelope | Mapping[str, Any]) -> bytes:
    """Canonical JSON bytes of an envelope (the same bytes whoever encodes it)."""
    obj = envelope.to_dict() if isinstance(envelope, Envelope) else dict(envelope)
    return canonical_json(obj)


def _reject_constant(name: str) -> Any:
    raise ProtocolError("bad_json", f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys would let a signer and a verifier see different objects.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ProtocolError("bad_json", f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def loads_strict(payload: bytes | bytearray | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """JSON with a size limit, strict UTF-8, no NaN/Infinity and no duplicate keys."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if not isinstance(payload, bytes | bytearray):
        raise ProtocolError("bad_json", f"payload must be bytes, not {type(payload).__name__}")
    if len(payload) > max_bytes:
        raise ProtocolError("too_large", f"payload of {len(payload)} bytes exceeds {max_bytes}")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("not_utf8", f"payload is not UTF-8: {exc.reason}") from None
    try:
        return json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys
        )
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError("bad_json", "payload nests too deeply") from None
    except ValueError as exc:
        raise ProtocolError("bad_json", f"payload is not JSON: {exc}") from None


def validate_envelope_dict(
    obj: object,
    *,
    now: datetime | None = None,
    max_skew_s: float | None = DEFAULT_MAX_SKEW_S,
    _with_ts: bool = False,
) -> Envelope:
    """Check a decoded JSON object against the envelope schema and return the Envelope.

    ``max_skew_s`` bounds |ts - now|; None switches the clock check off. A message marked
    ``historical`` (a replay from an outbox) may be arbitrarily old but never from the future.
    """
    if not isinstance(obj, dict):
        raise ProtocolError("not_object", "envelope must be a JSON object")
    missing = [name for name in _REQUIRED_FIELDS if name not in obj]
    if missing:
        raise ProtocolError("missing_field", f"envelope lacks {', '.join(missing)}")
    unknown = sorted(str(k)[:40] for k in obj if k not in _ALL_FIELDS)
    if unknown:
        raise ProtocolError("unknown_field", f"envelope has unknown fields {', '.join(unknown)}")

    env_id = obj["id"]
    if not isinstance(env_id, str) or not UUID_RE.fullmatch(env_id):
        raise ProtocolError("bad_id", "id must be a lowercase hyphenated UUID")
    ts = parse_ts(obj["ts"])
    seq = obj["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise ProtocolError("bad_seq", "seq must be an integer >= 0")
    type_name = obj["type"]
    if (
        not isinstance(type_name, str)
        or len(type_name) > _MAX_TYPE_LEN
        or not _TYPE_RE.fullmatch(type_name)
    ):
        raise ProtocolError("bad_type", "type must be a dotted lowercase name like 'lock.opened'")
    data = obj["data"]
    if not isinstance(data, dict):
        raise ProtocolError("bad_data", "data must be a JSON object")

    expires_at = obj.get("expires_at")
    if expires_at is not None:
        parse_ts(expires_at, field_name="expires_at")
    nonce = obj.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce)):
        raise ProtocolError("bad_nonce", "nonce must be 8-128 characters of [A-Za-z0-9_-]")
    sig = obj.get("sig")
    if sig is not None and (not isinstance(sig, str) or not _SIG_RE.fullmatch(sig)):
        raise ProtocolError("bad_sig", "sig must be 64 lowercase hex characters")
    historical = obj.get("historical")
    if historical is not None and not isinstance(historical, bool):
        raise ProtocolError("bad_historical", "historical must be true or false")

    if max_skew_s is not None:
        current = now_or_utc(now)
        skew = (ts - current).total_seconds()
        if skew > max_skew_s or (skew < -max_skew_s and not historical):
            raise ProtocolError(
                "clock_skew", f"ts {obj['ts']} is {skew:+.0f}s from now (bound {max_skew_s:.0f}s)"
            )

    envelope = Envelope(
        id=env_id,
        ts=obj["ts"],
        seq=seq,
        type=type_name,
        data=data,
        expires_at=expires_at,
        nonce=nonce,
        sig=sig,
        historical=historical,
    )
    if _with_ts:
        return envelope, ts  # type: ignore[return-value]
    return envelope


def decode_envelope(
    payload: bytes | bytearray,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    now: datetime | None = None,
    max_skew_s: float | None = DEFAULT_MAX_SKEW_S,
) -> Envelope:
    """Bytes off the wire -> a valid Envelope, or ProtocolError(code, message)."""
    return validate_envelope_dict(
        loads_strict(payload, max_bytes=max_bytes), now=now, max_skew_s=max_skew_s
    )


def decode_envelope_ts(
    payload: bytes | bytearray,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    now: datetime | None = None,
    max_skew_s: float | None = DEFAULT_MAX_SKEW_S,
) -> tuple[Envelope, datetime]:
    """``decode_envelope`` and the envelope's ``timestamp``, parsed once (hot paths)."""
    return validate_envelope_dict(  # type: ignore[return-value]
        loads_strict(payload, max_bytes=max_bytes),
        now=now,
        max_skew_s=max_skew_s,
        _with_ts=True,
    )
