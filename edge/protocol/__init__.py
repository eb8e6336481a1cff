"""The wire contract between devices, branch edges and the central backend (CONTRACT.md §3).

This package is the one implementation of it: devices/, edge/ and backend/ all import it and
nobody re-implements any of it. Pure standard library, no I/O, no clock of its own: every
function that needs the time takes ``now`` (a timezone-aware datetime) and falls back to the
system clock only when it is omitted.

Topic:    fe/v1/{branch_id}/{device_type}/{device_id}/{channel}                  (topics.py)
Envelope: {"id":"<uuid>","ts":"<RFC 3339 UTC>","seq":<int>,"type":"<dotted.name>","data":{…}}
          commands add "expires_at", "nonce" and "sig"; replays from an outbox may add
          "historical": true (the Sparkplug idea: a replayed message says so). (envelope.py)

- kinds.py: the device kinds (one ``KindSpec`` each: commands, events, what the edge does for
  it), ``DEVICE_TYPES`` derived from them, ``register_kind`` for one added at run time;
- topics.py: topic building and parsing, filters, the host STATE topic;
- envelope.py: the envelope, canonical JSON, strict decoding, RFC 3339 UTC timestamps;
- commands.py: HMAC signing and verification of commands, the nonce cache, acks;
- dedup.py: ``RecentIds``, de-duplication by envelope id;
- sealed.py: command arguments only the device may read (the lock's one-time code, as an
  HMAC keyed by the lock's secret; ``SEALED`` wherever a command is kept or shown);
- errors.py: ``ProtocolError(code, message)`` with a stable snake_case ``code``, so callers
  can count and report errors (for instance in an ``edge.bad_payload`` event) without parsing
  text.

Import from this package; its modules are its own business.
"""

from edge.protocol.commands import (
    ACK_STATUSES,
    DEFAULT_COMMAND_TTL_S,
    Ack,
    NonceCache,
    compute_signature,
    make_ack,
    make_command,
    parse_ack,
    sign_command,
    verify_command,
)
from edge.protocol.dedup import RecentIds
from edge.protocol.envelope import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SKEW_S,
    MAX_SEQ,
    Envelope,
    canonical_json,
    decode_envelope,
    decode_envelope_ts,
    encode,
    format_ts,
    loads_strict,
    make_envelope,
    parse_ts,
    validate_envelope_dict,
)
from edge.protocol.errors import ProtocolError
from edge.protocol.kinds import (
    BUILTIN_KINDS,
    COMMON_COMMANDS,
    DEVICE_TYPES,
    EDGE_DEVICE_TYPE,
    KIND_COMMANDS,
    KINDS,
    KindSpec,
    kind,
    register_kind,
    unregister_kind,
)
from edge.protocol.sealed import (
    SEALED,
    SealedCode,
    code_mac,
    stored_args,
    wire_args,
)
from edge.protocol.topics import (
    CHANNELS,
    DEFAULT_HOST_ID,
    TOPIC_ROOT,
    TOPIC_VERSION,
    UPLINK_CHANNELS,
    Topic,
    build_topic,
    default_edge_id,
    host_state_topic,
    parse_topic,
    topic_filter,
)

__all__ = [
    "ACK_STATUSES",
    "BUILTIN_KINDS",
    "CHANNELS",
    "COMMON_COMMANDS",
    "DEFAULT_COMMAND_TTL_S",
    "DEFAULT_HOST_ID",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SKEW_S",
    "DEVICE_TYPES",
    "EDGE_DEVICE_TYPE",
    "KINDS",
    "KIND_COMMANDS",
    "MAX_SEQ",
    "SEALED",
    "TOPIC_ROOT",
    "TOPIC_VERSION",
    "UPLINK_CHANNELS",
    "Ack",
    "Envelope",
    "KindSpec",
    "NonceCache",
    "ProtocolError",
    "RecentIds",
    "SealedCode",
    "Topic",
    "build_topic",
    "canonical_json",
    "code_mac",
    "compute_signature",
    "decode_envelope",
    "decode_envelope_ts",
    "default_edge_id",
    "encode",
    "format_ts",
    "host_state_topic",
    "kind",
    "loads_strict",
    "make_ack",
    "make_command",
    "make_envelope",
    "parse_ack",
    "parse_topic",
    "parse_ts",
    "register_kind",
    "sign_command",
    "stored_args",
    "topic_filter",
    "unregister_kind",
    "validate_envelope_dict",
    "verify_command",
    "wire_args",
]
