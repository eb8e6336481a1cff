"""The wire contract between devices, branch edges and the central backend (CONTRACT.md §3).

This is the one implementation of it: topic building and parsing, the JSON envelope, canonical
JSON, and the HMAC signing and verification of commands. devices/, edge/ and backend/ all import
this module and nobody re-implements any of it. Pure standard library, no I/O, no clock of its
own: every function that needs the time takes ``now`` (a timezone-aware datetime) and falls back
to the system clock only when it is omitted.

Topic:    fe/v1/{branch_id}/{device_type}/{device_id}/{channel}
Envelope: {"id":"<uuid>","ts":"<RFC 3339 UTC>","seq":<int>,"type":"<dotted.name>","data":{…}}
          commands add "expires_at", "nonce" and "sig"; replays from an outbox may add
          "historical": true (the Sparkplug idea: a replayed message says so).

Errors are ProtocolError(code, message) with a stable snake_case ``code`` so that callers can
count and report them (for instance in an ``edge.bad_payload`` event) without parsing text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TOPIC_ROOT = "fe"
TOPIC_VERSION = "v1"
DEVICE_TYPES = frozenset(
    {"counter", "cash", "lock", "kiosk", "caller", "display", "camera", "edge"}
)
# "receipt" is an extension (docs/iot.md): central -> edge, the envelope ids the centre has
# stored (or deliberately dropped), so the edge's outbox keeps a message until then.
# "config/counters" too: central -> edge, retained, the hall's counter map (counter id ->
# skills and caller device) that the edge's offline queue calls by.
# "queue/sync" too: central -> edge, what the centre did with the edge's kiosk tickets (called,
# finished, no-show, transferred, cancelled), so the edge's offline queue never calls them again.
CHANNELS = frozenset(
    {
        "telemetry",
        "event",
        "state",
        "cmd",
        "ack",
        "config/desired",
        "config/reported",
        "config/counters",
        "queue/sync",
        "receipt",
    }
)
ACK_STATUSES = frozenset({"ok", "rejected", "failed"})

DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_SKEW_S = 300.0
DEFAULT_COMMAND_TTL_S = 120.0
MAX_SEQ = 2**63 - 1

# Branch and device ids become topic levels and (for devices) broker usernames: keep them to a
# character set that is safe in both, and never let a wildcard or separator through.
_IDENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
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


class ProtocolError(ValueError):
    """A topic or payload breaks the wire contract. ``code`` is stable snake_case."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- topics


@dataclass(frozen=True)
class Topic:
    branch_id: str
    device_type: str
    device_id: str
    channel: str

    def __str__(self) -> str:
        return self.topic

    @property
    def topic(self) -> str:
        return build_topic(self.branch_id, self.device_type, self.device_id, self.channel)


def _check_ident(kind: str, value: object) -> str:
    if not isinstance(value, str) or not _IDENT_RE.fullmatch(value):
        raise ProtocolError("bad_topic", f"{kind} {value!r} must match {_IDENT_RE.pattern}")
    return value


def build_topic(branch_id: str, device_type: str, device_id: str, channel: str) -> str:
    """``fe/v1/{branch_id}/{device_type}/{device_id}/{channel}``, every part validated."""
    _check_ident("branch_id", branch_id)
    _check_ident("device_id", device_id)
    if device_type not in DEVICE_TYPES:
        raise ProtocolError("bad_topic", f"unknown device_type {device_type!r}")
    if channel not in CHANNELS:
        raise ProtocolError("bad_topic", f"unknown channel {channel!r}")
    return f"{TOPIC_ROOT}/{TOPIC_VERSION}/{branch_id}/{device_type}/{device_id}/{channel}"


def parse_topic(topic: str) -> Topic:
    """Inverse of build_topic; raises ProtocolError('bad_topic') on anything else."""
    if not isinstance(topic, str):
        raise ProtocolError("bad_topic", "topic must be a string")
    parts = topic.split("/")
    if len(parts) not in (6, 7) or parts[0] != TOPIC_ROOT or parts[1] != TOPIC_VERSION:
        raise ProtocolError("bad_topic", f"not a {TOPIC_ROOT}/{TOPIC_VERSION} topic: {topic!r}")
    branch_id, device_type, device_id = parts[2], parts[3], parts[4]
    channel = "/".join(parts[5:])
    build_topic(branch_id, device_type, device_id, channel)  # validates every part
    return Topic(branch_id, device_type, device_id, channel)


# Extensions (docs/iot.md): the central host's STATE topic, outside the device tree like
# Sparkplug's spBv1.0/STATE/{host_id}; the edge's device id, which names its own topics; the
# receipt channel (above).
UPLINK_CHANNELS = frozenset({"telemetry", "event", "state", "ack", "config/reported"})
DEFAULT_HOST_ID = "finedge"


def host_state_topic(host_id: str = DEFAULT_HOST_ID) -> str:
    """``fe/v1/STATE/{host_id}``: retained {"online", "session"} of the central backend."""
    return f"{TOPIC_ROOT}/{TOPIC_VERSION}/STATE/{_check_ident('host_id', host_id)}"


def default_edge_id(branch_id: str) -> str:
    """``edge-<branch id in lower case>``, also the edge's login on the central broker."""
    return f"edge-{_check_ident('branch_id', branch_id).lower()}"


def topic_filter(
    branch_id: str | None = None,
    device_type: str | None = None,
    device_id: str | None = None,
    channel: str | None = None,
) -> str:
    """A subscription filter; None means "any" (``+`` for a level, ``#`` for the channel).

    The channel wildcard is ``#`` because ``config/desired`` spans two topic levels.
    """
    parts = [TOPIC_ROOT, TOPIC_VERSION]
    parts.append("+" if branch_id is None else _check_ident("branch_id", branch_id))
    if device_type is not None and device_type not in DEVICE_TYPES:
        raise ProtocolError("bad_topic", f"unknown device_type {device_type!r}")
    parts.append(device_type or "+")
    parts.append("+" if device_id is None else _check_ident("device_id", device_id))
    if channel is not None and channel not in CHANNELS:
        raise ProtocolError("bad_topic", f"unknown channel {channel!r}")
    parts.append(channel or "#")
    return "/".join(parts)


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


def _now(now: datetime | None) -> datetime:
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
        ts=format_ts(_now(now)),
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
    if not isinstance(env_id, str) or not _UUID_RE.fullmatch(env_id):
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
        current = _now(now)
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


# --------------------------------------------------------------------------- commands


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
    current = _now(now)
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
    current = _now(now)
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
    if not isinstance(command_id, str) or not _UUID_RE.fullmatch(command_id):
        raise ProtocolError("bad_ack", "ack data.id must be the command's uuid")
    if status not in ACK_STATUSES:
        raise ProtocolError("bad_ack", f"ack status must be one of {sorted(ACK_STATUSES)}")
    if not isinstance(reason, str):
        raise ProtocolError("bad_ack", "ack reason must be a string")
    return Ack(command_id, status, reason)
