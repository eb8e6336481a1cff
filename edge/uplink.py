"""The uplink gate: what the branch's devices publish, checked before the edge accepts it.

Every message on the branch broker passes here (``on_message``, on the branch client's
dispatch thread). In order:

1. the topic must parse, be a device's uplink channel (the edge's own topics, those of the kind
   marked ``edge_node``, and downlink channels are ignored) and name this branch;
2. the device must be admitted by the registry with that kind (else it is remembered, to be
   asked for a rebirth once a registry admits it);
3. the envelope must be valid (schema, 64 KiB limit), its clock within ``max_skew_s`` of the
   edge's (older is fine when historical, or for a death: a will is written at connect time),
   and an event the edge acts on must carry data it can act on (edge/hall.py ``check``);
4. a duplicate (by envelope id) is dropped; a gap in the device's ``seq`` asks it for a
   rebirth (``edge.seq_gap``); a noisy device's telemetry and events are rate-limited
   (``edge.rate_limited``);
5. the message goes into the outbox (edge/outbox.py), unchanged, and the hall acts on it.

A message that fails 1-3 is dropped with an ``edge.bad_payload`` event (throttled per device
and reason) and nothing else happens; one bad message never stops the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from backend.platform.mqtt import Message
from edge.hall import OfflineHall
from edge.local_commands import LocalCommands
from edge.outbox import Outbox
from edge.own_messages import OwnMessages
from edge.protocol import (
    KINDS,
    UPLINK_CHANNELS,
    Envelope,
    ProtocolError,
    RecentIds,
    Topic,
    decode_envelope_ts,
    parse_topic,
)
from edge.registry import DeviceRegistry
from edge.settings import EdgeSettings, EdgeStats
from edge.tracking import RateLimiter, SeqTracker, Throttle

log = logging.getLogger(__name__)

RATE_LIMITED_CHANNELS = frozenset({"telemetry", "event"})


class UplinkGate:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        registry: DeviceRegistry,
        outbox: Outbox,
        messages: OwnMessages,
        commands: LocalCommands,
        hall: OfflineHall,
        clock: Callable[[], datetime],
        stats: EdgeStats,
    ) -> None:
        self.settings = settings
        self.branch_id = settings.branch_id
        self.edge_id = settings.edge_id
        self.registry = registry
        self.outbox = outbox
        self.messages = messages
        self.commands = commands
        self.hall = hall
        self.clock = clock
        self.stats = stats
        self._recent = RecentIds()
        self._seqs = SeqTracker()
        self._limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
        self._bad_throttle = Throttle(1.0)
        self._rate_throttle = Throttle(10.0)
        self._rebirth_throttle = Throttle(settings.rebirth_every_s)

    def on_message(self, message: Message) -> None:
        try:
            self.handle(message)
        except Exception:  # never let one message stop the edge
            self.stats.add("errors")
            log.exception("edge %s: uplink on %s failed", self.edge_id, message.topic)

    def handle(self, message: Message) -> None:
        topic, payload = message.topic, message.payload
        self.stats.add("received")
        try:
            parsed = parse_topic(topic)
        except ProtocolError as exc:
            self._bad(topic, exc.code, exc.message, len(payload), None)
            return
        spec = KINDS.get(parsed.device_type)
        if spec is None or spec.edge_node or parsed.channel not in UPLINK_CHANNELS:
            return  # our own relays (cmd, config/desired) and edges' topics
        if parsed.branch_id != self.branch_id:
            self._bad(topic, "wrong_branch", "not this branch", len(payload), parsed.device_id)
            return
        entry = self.registry.get(parsed.device_id)
        if entry is None or not entry.admitted or entry.device_type != parsed.device_type:
            self._bad(
                topic,
                "unknown_device",
                "not a registered device of this type",
                len(payload),
                parsed.device_id,
            )
            if (entry is None or not entry.admitted) and self.registry.remember_unknown(
                parsed.device_id
            ):
                self.commands.rebirth(parsed.device_id, "registered")
            return
        try:
            env, ts = decode_envelope_ts(
                payload, max_bytes=self.settings.max_bytes, max_skew_s=None
            )
            self._check_clock(env, ts)
            self.hall.check(parsed, env)
        except ProtocolError as exc:
            self._bad(topic, exc.code, exc.message, len(payload), parsed.device_id)
            return
        if self._recent.seen(env.id):
            self.stats.add("duplicates")
            return
        verdict = self._seqs.observe(parsed.device_id, env.seq, env.type)
        if verdict.kind == "gap":
            self.stats.add("seq_gaps")
            self._request_rebirth(parsed, verdict.expected, verdict.got)
        elif verdict.kind == "reset":
            self.stats.add("seq_resets")
        if parsed.channel in RATE_LIMITED_CHANNELS and not self._limiter.allow(parsed.device_id):
            self.stats.add("rate_limited")
            report, held = self._rate_throttle.ready(parsed.device_id)
            if report:
                self.messages.emit(
                    "edge.rate_limited",
                    {
                        "device_id": parsed.device_id,
                        "dropped": held + 1,
                        "limit_per_s": self.settings.rate_per_s,
                    },
                )
            return
        live = self.outbox.put(topic, payload, parsed.channel, env.id)
        self.stats.add("accepted")
        self.hall.on_uplink(parsed, env, live)

    def _check_clock(self, env: Envelope, ts: datetime) -> None:
        """Future beyond the bound: refused; past beyond it: refused unless historical or a death
        (a last will is written when the device connects and published much later)."""
        skew = (ts - self.clock()).total_seconds()
        bound = self.settings.max_skew_s
        if skew > bound or (skew < -bound and not env.historical and env.type != "device.death"):
            raise ProtocolError("clock_skew", f"ts {env.ts} is {skew:+.0f}s from the edge clock")

    def _bad(self, topic: str, code: str, message: str, size: int, device_id: str | None) -> None:
        self.stats.add("bad_payload")
        self.stats.add(f"bad:{code}")
        report, held = self._bad_throttle.ready((device_id or topic, code))
        log.info("edge %s dropped a payload on %s: %s %s", self.edge_id, topic[:120], code, message)
        if report:
            self.messages.emit(
                "edge.bad_payload",
                {
                    "topic": topic[:200],
                    "code": code,
                    "message": message[:200],
                    "size": size,
                    "device_id": device_id,
                    "suppressed": held,
                },
            )

    def _request_rebirth(self, topic: Topic, expected: int | None, got: int | None) -> None:
        report, _held = self._rebirth_throttle.ready(topic.device_id)
        self.messages.emit(
            "edge.seq_gap",
            {"device_id": topic.device_id, "expected": expected, "got": got, "rebirth": report},
        )
        if report:
            self.commands.rebirth(topic.device_id, "seq_gap")
