"""Topics of the wire: ``fe/v1/{branch_id}/{device_type}/{device_id}/{channel}``.

Building and parsing (every level validated: ids safe as topic levels and broker usernames,
a registered device kind, a known channel), subscription filters, and the extensions of
docs/iot.md: the central host's STATE topic and the edge's own device id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edge.protocol.errors import ProtocolError
from edge.protocol.kinds import DEVICE_TYPES

TOPIC_ROOT = "fe"
TOPIC_VERSION = "v1"
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


# Branch and device ids become topic levels and (for devices) broker usernames: keep them to a
# character set that is safe in both, and never let a wildcard or separator through.
_IDENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


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
