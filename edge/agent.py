"""The edge agent of one branch (``finedge edge --branch BR001``).

Between the branch's devices and the centre it

- hosts the branch broker (edge/branch_broker.py: device logins checked against the registry
  synced from the centre, per-device topic ACL) or joins the one at BRANCH_MQTT_URL;
- validates every uplink (topic, registered device of that type, envelope schema, 64 KiB
  limit, clock skew); a bad one is dropped with an ``edge.bad_payload`` event on
  ``fe/v1/{branch}/edge/{edge_id}/event`` and nothing else happens;
- drops duplicates by envelope id, tracks each device's ``seq`` and asks the device for a
  rebirth on a gap, rate-limits noisy devices;
- puts every accepted uplink in a durable SQLite outbox (edge/store.py) and forwards it, in
  order, to the central broker on the same topic once the centre is there; what waited is
  marked ``historical``;
- gates that forwarding on the central host's STATE (Sparkplug): only after the backend said it
  is online (retained ``fe/v1/STATE/{host_id}``) does the edge publish its birth and drain the
  outbox, so nothing is sent into a broker nobody reads;
- relays signed commands and desired configurations from the centre to the devices (acks come
  back up as uplinks) and keeps its own state (birth, death as last will, stats telemetry);
- leaves a window's "call next" (``caller.call_next``) to the centre while the uplink is live
  (the centre calls from the whole hall queue and answers with ``caller.show_call`` naming the
  request); a press the centre does not answer within ``call_answer_timeout_s`` while the uplink
  has gone down meanwhile is served locally (see ``_settle_call``);
- runs the local queue rules (edge/localqueue.py) so kiosks and callers keep working while the
  uplink is down: the hall's priority rules (edge/queue_rules.py, the centre's too) over the
  counters' skills from the counter map the centre keeps retained on the edge's
  ``config/counters`` topic (``edge.counters``, which also carries the hall's timezone: ticket
  numbers restart on the branch's local day; ``timezone`` below until it arrives), and what
  the centre did with the edge's
  kiosk tickets (``queue.sync`` on its ``queue/sync`` topic, taken from the central broker
  only), so a client called at the centre is never called again here.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend.platform.mqtt import Message, MqttClient, MqttError, Will
from edge.branch_broker import BranchBroker
from edge.forwarder import ForwardingMixin
from edge.localqueue import (
    DEFAULT_TIMEZONE,
    CounterMap,
    LocalQueue,
    QueueSync,
    check_category,
    load_zone,
)
from edge.protocol import (
    DEFAULT_HOST_ID,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_SKEW_S,
    UPLINK_CHANNELS,
    Envelope,
    ProtocolError,
    Topic,
    build_topic,
    decode_envelope,
    decode_envelope_ts,
    default_edge_id,
    encode,
    host_state_topic,
    loads_strict,
    make_command,
    make_envelope,
    parse_topic,
)
from edge.store import EdgeStore, RegistryEntry
from edge.tracking import RateLimiter, RecentIds, SeqTracker, Throttle
from edge.transport import PipelinedMqttClient, connect_with_retry

log = logging.getLogger(__name__)

RATE_LIMITED_CHANNELS = frozenset({"telemetry", "event"})


@dataclass
class EdgeSettings:
    branch_id: str
    central_url: str
    data_dir: Path
    edge_id: str = ""
    branch_url: str | None = None  # None: host the embedded branch broker
    host: str = "127.0.0.1"
    mqtt_port: int = 18831
    host_id: str = DEFAULT_HOST_ID
    max_bytes: int = DEFAULT_MAX_BYTES
    max_skew_s: float = DEFAULT_MAX_SKEW_S
    rate_per_s: float = 50.0
    rate_burst: float = 200.0
    historical_after_s: float = 10.0
    window: int = 200
    receipt_window: int = 500
    receipt_timeout_s: float = 10.0
    outbox_max_rows: int = 2_000_000
    stats_every_s: float = 30.0
    rebirth_every_s: float = 10.0
    synchronous: str = "NORMAL"
    retry_max_delay: float = 5.0
    # The local queue's timezone until the centre's counter map brings the hall's (IANA name).
    timezone: str = DEFAULT_TIMEZONE
    # How long a call-next forwarded to the centre waits for its answer (caller.show_call with
    # the press's request_id) before the edge, if the uplink is down by then, calls locally.
    call_answer_timeout_s: float = 3.0

    def __post_init__(self) -> None:
        self.edge_id = self.edge_id or default_edge_id(self.branch_id)
        self.data_dir = Path(self.data_dir)
        load_zone(self.timezone)  # ValueError now rather than at the first ticket


@dataclass
class PendingCall:
    """A call-next forwarded to the centre, waiting for its answer."""

    caller_id: str
    data: dict[str, Any]
    envelope_id: str
    deadline: float


@dataclass
class EdgeStats:
    counts: Counter[str] = field(default_factory=Counter)

    def __getitem__(self, key: str) -> int:
        return self.counts[key]

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n


class EdgeAgent(ForwardingMixin):
    def __init__(self, settings: EdgeSettings, *, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.branch_id = settings.branch_id
        self.edge_id = settings.edge_id
        self.stats = EdgeStats()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._store: EdgeStore | None = None
        self._queue: LocalQueue | None = None
        self._broker: BranchBroker | None = None
        self._branch: MqttClient | None = None
        self._central: PipelinedMqttClient | None = None
        self._threads: list[threading.Thread] = []
        self._registry: dict[str, RegistryEntry] = {}
        self._recent = RecentIds()
        self._seqs = SeqTracker()
        self._limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
        self._bad_throttle = Throttle(1.0)
        self._rate_throttle = Throttle(10.0)
        self._rebirth_throttle = Throttle(settings.rebirth_every_s)
        # Devices dropped as unknown: on an external branch broker they may talk before the
        # registry that admits them arrives; once it does, they are asked for a rebirth.
        self._unknown: set[str] = set()
        self._unknown_lock = threading.Lock()
        self._host_online = False
        self._host_session: str | None = None
        self._receipts = False
        self._rewind = False
        self._unreceipted: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._born = False
        self._session = uuid.uuid4().hex
        self._seq_lock = threading.Lock()
        self._seq = 0
        self._edge_password = secrets.token_urlsafe(24)
        self.branch_url: str | None = None
        # call-nexts left to the centre: (caller id, request id) -> the press
        self._pending_calls: dict[tuple[str, str], PendingCall] = {}
        self._calls_cond = threading.Condition()

    # ------------------------------------------------------------------ topics

    def own_topic(self, channel: str) -> str:
        return build_topic(self.branch_id, "edge", self.edge_id, channel)

    @property
    def store(self) -> EdgeStore:
        assert self._store is not None, "edge not started"
        return self._store

    @property
    def queue(self) -> LocalQueue:
        assert self._queue is not None, "edge not started"
        return self._queue

    @property
    def registry(self) -> dict[str, RegistryEntry]:
        return dict(self._registry)

    @property
    def uplink_live(self) -> bool:
        central = self._central
        return bool(central and central.connected and self._host_online and self._born)

    @property
    def host_online(self) -> bool:
        return self._host_online

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EdgeAgent:
        s = self.settings
        self._stop.clear()
        self._store = EdgeStore(s.data_dir / f"edge-{self.branch_id}.db", synchronous=s.synchronous)
        self._store.mark_historical()  # whatever a previous run left is a replay now
        self._queue = LocalQueue(self._store, timezone=s.timezone)
        self._seq = int(self._store.kv_get("edge_seq", "0") or 0)
        self._registry = self._store.registry()
        try:
            if s.branch_url is None:
                self._broker = BranchBroker(self.branch_id, s.host, s.mqtt_port)
                self._broker.set_devices(list(self._registry.values()))
                self._broker.add_user(self.edge_id, self._edge_password)
                self._broker.start()
                self.branch_url = self._broker.url_for(self.edge_id, self._edge_password)
            else:
                self.branch_url = s.branch_url
            # On an external branch broker a persistent session makes the broker queue the
            # devices' uplinks while the edge restarts; the embedded one restarts with us.
            external = s.branch_url is not None
            self._branch = MqttClient(
                self.branch_url,
                f"{self.edge_id}-branch" + ("" if external else f"-{uuid.uuid4().hex[:6]}"),
                clean_session=not external,
                reconnect_min_delay=0.2,
                reconnect_max_delay=s.retry_max_delay,
            )
            self._branch.subscribe(f"fe/v1/{self.branch_id}/#", self._on_branch_message, qos=1)
            self._branch.connect(timeout=10)
        except BaseException:
            self.stop()
            raise
        for target, name in (
            (self._uplink_loop, "uplink"),
            (self._forward_loop, "forward"),
            (self._calls_loop, "calls"),
        ):
            thread = threading.Thread(target=target, name=f"{self.edge_id}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("edge %s of %s started (outbox %d)", self.edge_id, self.branch_id, self.pending)
        return self

    @property
    def broker(self) -> BranchBroker | None:
        return self._broker

    @property
    def pending(self) -> int:
        return self._store.pending if self._store else 0

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        with self._calls_cond:
            self._calls_cond.notify_all()
        for thread in self._threads:
            thread.join(10)
        self._threads = []
        central = self._central
        if central is not None:
            if central.connected:
                with contextlib.suppress(MqttError):
                    central.publish(
                        self.own_topic("state"),
                        encode(self._make_envelope("edge.death", self._death_data())),
                        retain=True,
                        timeout=2,
                    )
            central.close()
            self._central = None
        if self._branch is not None:
            self._branch.close()
            self._branch = None
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
        if self._store is not None:
            self._store.close()
            self._store = None
        self._born = False
        self._host_online = False

    def __enter__(self) -> EdgeAgent:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # ------------------------------------------------------------------ own messages

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            if self._store is not None and self._seq % 100 == 0:
                self._store.kv_set("edge_seq", str(self._seq + 100))  # never reuse after a crash
            return self._seq

    def _make_envelope(self, type_: str, data: dict[str, Any]) -> Envelope:
        return make_envelope(type_, data, self._next_seq(), now=self._clock())

    def _death_data(self) -> dict[str, Any]:
        return {"online": False, "session": self._session}

    def emit(self, type_: str, data: dict[str, Any], channel: str = "event") -> None:
        """An event of the edge itself: through the outbox like every uplink."""
        env = self._make_envelope(type_, data)
        self._enqueue(self.own_topic(channel), encode(env), channel, env.id)

    def _bad(self, topic: str, code: str, message: str, size: int, device_id: str | None) -> None:
        self.stats.add("bad_payload")
        self.stats.add(f"bad:{code}")
        report, held = self._bad_throttle.ready((device_id or topic, code))
        log.info("edge %s dropped a payload on %s: %s %s", self.edge_id, topic[:120], code, message)
        if report:
            self.emit(
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

    # ------------------------------------------------------------------ uplinks from devices

    def _on_branch_message(self, message: Message) -> None:
        try:
            self._handle_uplink(message)
        except Exception:  # never let one message stop the edge
            self.stats.add("errors")
            log.exception("edge %s: uplink on %s failed", self.edge_id, message.topic)

    def _handle_uplink(self, message: Message) -> None:
        topic, payload = message.topic, message.payload
        self.stats.add("received")
        try:
            parsed = parse_topic(topic)
        except ProtocolError as exc:
            self._bad(topic, exc.code, exc.message, len(payload), None)
            return
        if parsed.device_type == "edge" or parsed.channel not in UPLINK_CHANNELS:
            return  # our own relays (cmd, config/desired) and edges' topics
        if parsed.branch_id != self.branch_id:
            self._bad(topic, "wrong_branch", "not this branch", len(payload), parsed.device_id)
            return
        entry = self._registry.get(parsed.device_id)
        if entry is None or not entry.admitted or entry.device_type != parsed.device_type:
            self._bad(
                topic,
                "unknown_device",
                "not a registered device of this type",
                len(payload),
                parsed.device_id,
            )
            if entry is None or not entry.admitted:
                self._remember_unknown(parsed.device_id)
            return
        try:
            env, ts = decode_envelope_ts(
                payload, max_bytes=self.settings.max_bytes, max_skew_s=None
            )
            self._check_clock(env, ts)
            self._check_data(parsed, env)
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
                self.emit(
                    "edge.rate_limited",
                    {
                        "device_id": parsed.device_id,
                        "dropped": held + 1,
                        "limit_per_s": self.settings.rate_per_s,
                    },
                )
            return
        live = self._enqueue(topic, payload, parsed.channel, env.id)
        self.stats.add("accepted")
        self._local_rules(parsed, env, live)

    def _check_clock(self, env: Envelope, ts: datetime | None = None) -> None:
        """Future beyond the bound: refused; past beyond it: refused unless historical or a death
        (a last will is written when the device connects and published much later)."""
        skew = ((env.timestamp if ts is None else ts) - self._clock()).total_seconds()
        bound = self.settings.max_skew_s
        if skew > bound or (skew < -bound and not env.historical and env.type != "device.death"):
            raise ProtocolError("clock_skew", f"ts {env.ts} is {skew:+.0f}s from the edge clock")

    @staticmethod
    def _check_data(topic: Topic, env: Envelope) -> None:
        """Fields of the events the edge acts on itself: a kiosk request's category."""
        if topic.channel == "event" and env.type == "kiosk.ticket_requested":
            try:
                check_category(env.data.get("category"))
            except ValueError as exc:
                raise ProtocolError("bad_data", str(exc)) from None

    def _enqueue(self, topic: str, payload: bytes, channel: str, envelope_id: str) -> bool:
        """Into the outbox; whether the uplink was live (the row goes up as a live message)."""
        store = self._store
        if store is None:
            return False
        if store.pending >= self.settings.outbox_max_rows:
            dropped = store.drop_oldest_telemetry(max(1, self.settings.outbox_max_rows // 100))
            self.stats.add("outbox_dropped", dropped)
            if not dropped and channel == "telemetry":
                self.stats.add("outbox_refused")
                return False
        live = self.uplink_live
        store.append(topic, payload, channel, historical=not live, envelope_id=envelope_id)
        with self._cond:
            self._cond.notify_all()
        return live

    # ------------------------------------------------------------------ edge-signed commands

    def send_local_command(self, device_id: str, type_: str, data: dict[str, Any]) -> str | None:
        """Sign with the device's edge key and publish on its cmd topic; the command id."""
        entry = self._registry.get(device_id)
        branch = self._branch
        if entry is None or not entry.edge_key or branch is None:
            self.stats.add("local_command_unroutable")
            return None
        env = make_command(
            type_,
            data,
            self._next_seq(),
            bytes.fromhex(entry.edge_key),
            ttl_s=60,
            now=self._clock(),
        )
        try:
            branch.publish(
                build_topic(self.branch_id, entry.device_type, device_id, "cmd"),
                encode(env),
                timeout=5,
            )
        except MqttError as exc:
            log.warning(
                "edge %s: local command %s to %s failed: %s", self.edge_id, type_, device_id, exc
            )
            return None
        self.stats.add("local_commands")
        return env.id

    def _request_rebirth(self, topic: Topic, expected: int | None, got: int | None) -> None:
        report, _held = self._rebirth_throttle.ready(topic.device_id)
        self.emit(
            "edge.seq_gap",
            {"device_id": topic.device_id, "expected": expected, "got": got, "rebirth": report},
        )
        if report:
            self.stats.add("rebirths_requested")
            self.send_local_command(topic.device_id, "device.rebirth", {"reason": "seq_gap"})

    # ------------------------------------------------------------------ local rules (queue)

    def _local_rules(self, topic: Topic, env: Envelope, live: bool = False) -> None:
        if topic.channel != "event":
            return
        if env.type == "kiosk.ticket_requested":
            self._issue_ticket(topic.device_id, env.data)
        elif env.type == "caller.call_next":
            request_id = env.data.get("request_id")
            if live and not env.historical and isinstance(request_id, str) and request_id:
                self._leave_call_to_centre(topic.device_id, request_id, env)
            else:
                self._call_next(topic.device_id, env.data)

    # ------------------------------------------------------------------ call-next: online first
    #
    # The rule. A press (``caller.call_next {request_id, counter_id}``) that goes into the
    # outbox while the uplink is live, is not historical and names a request id is the
    # centre's: the edge forwards it and does not call. The centre calls from the whole hall
    # queue and answers with ``caller.show_call {..., request_id}``. If no answer for that
    # request has passed through the edge after ``call_answer_timeout_s``:
    # - the uplink is live again (or still): nothing (the centre has it or declined it; a
    #   press sent again after a short break is still live and the centre answers it);
    # - the uplink is down and the press is still in the outbox (the centre never confirmed
    #   it): the row is marked historical and the edge calls locally; the centre ignores a
    #   historical call_next, so the replay after the outage serves nobody again;
    # - the uplink is down but the press left the outbox (the centre's receipt, or the broker's
    #   PUBACK for a centre without receipts): the centre has it; nothing here.
    # Every other press (uplink down, historical, no request id) is served locally at once.

    def _leave_call_to_centre(self, caller_id: str, request_id: str, env: Envelope) -> None:
        deadline = time.monotonic() + self.settings.call_answer_timeout_s
        with self._calls_cond:
            self._pending_calls[(caller_id, request_id)] = PendingCall(
                caller_id, dict(env.data), env.id, deadline
            )
            self._calls_cond.notify_all()
        self.stats.add("calls_to_centre")

    def _call_answered(self, device_id: str, payload: bytes) -> None:
        """A ``caller.show_call`` from the centre relayed to ``device_id``: the answer to the
        press it names (``request_id``), if one is pending."""
        try:
            obj = loads_strict(payload, max_bytes=self.settings.max_bytes)
        except ProtocolError:
            return
        if not isinstance(obj, dict) or obj.get("type") != "caller.show_call":
            return
        data = obj.get("data")
        request_id = data.get("request_id") if isinstance(data, dict) else None
        if not isinstance(request_id, str):
            return
        with self._calls_cond:
            if self._pending_calls.pop((device_id, request_id), None) is not None:
                self.stats.add("calls_answered_by_centre")

    def _calls_loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._calls_cond:
                due = [k for k, p in self._pending_calls.items() if p.deadline <= now]
                expired = [self._pending_calls.pop(k) for k in due]
                if not expired:
                    soonest = min((p.deadline for p in self._pending_calls.values()), default=None)
                    wait = 0.5 if soonest is None else max(0.01, min(0.5, soonest - now))
                    self._calls_cond.wait(wait)
                    continue
            for pending in expired:
                try:
                    self._settle_call(pending)
                except Exception:
                    self.stats.add("errors")
                    log.exception("edge %s: unanswered call-next not settled", self.edge_id)

    def _settle_call(self, pending: PendingCall) -> None:
        """A press the centre did not answer in time (the rule above)."""
        if self.uplink_live:
            self.stats.add("calls_unanswered_online")
            log.info(
                "edge %s: no answer from the centre to call-next %s of %s (uplink live)",
                self.edge_id,
                pending.data.get("request_id"),
                pending.caller_id,
            )
            return
        if not self.store.mark_envelope_historical(pending.envelope_id):
            self.stats.add("calls_unanswered_delivered")
            log.info(
                "edge %s: call-next %s of %s left the outbox but was not answered",
                self.edge_id,
                pending.data.get("request_id"),
                pending.caller_id,
            )
            return
        self.stats.add("calls_local_fallback")
        log.warning(
            "edge %s: uplink down, call-next %s of %s unanswered: calling locally",
            self.edge_id,
            pending.data.get("request_id"),
            pending.caller_id,
        )
        self._call_next(pending.caller_id, pending.data)

    def _issue_ticket(self, kiosk_id: str, data: dict[str, Any]) -> None:
        service, request_id = data.get("service"), data.get("request_id")
        try:
            ticket, created = self.queue.issue(
                str(service),
                self._clock(),
                request_id=str(request_id),
                kiosk_id=kiosk_id,
                category=data.get("category"),
            )
        except ValueError:
            self.stats.add("queue_refused")
            return
        if created:
            self.emit("queue.ticket_issued", ticket.to_dict())
        self.send_local_command(
            kiosk_id,
            "kiosk.print_ticket",
            {
                "request_id": request_id,
                "ticket_no": ticket.ticket_no,
                "service": ticket.service,
                "position": ticket.position,
                "estimated_wait_s": ticket.estimated_wait_s,
            },
        )

    def _call_next(self, caller_id: str, data: dict[str, Any]) -> None:
        counter_id = self.queue.counter_for(caller_id, data.get("counter_id"))
        called, done = self.queue.call_next(counter_id, self._clock())
        if done is not None:
            self.emit("queue.ticket_done", done.to_dict())
        request_id = data.get("request_id")
        if called is not None:
            self.emit("queue.ticket_called", {**called.to_dict(), "caller_id": caller_id})
        ticket_no = called.ticket_no if called else None
        args: dict[str, Any] = {"ticket_no": ticket_no, "counter_id": counter_id}
        if isinstance(request_id, str):
            args["request_id"] = request_id
        self.send_local_command(caller_id, "caller.show_call", args)
        if called is not None:
            for entry in list(self._registry.values()):
                if entry.device_type == "display" and entry.admitted:
                    self.send_local_command(
                        entry.device_id,
                        "display.show",
                        {"ticket_no": called.ticket_no, "counter_id": counter_id},
                    )

    # ------------------------------------------------------------------ the centre

    def _make_central_client(self) -> PipelinedMqttClient:
        will_env = self._make_envelope("edge.death", self._death_data())
        client = PipelinedMqttClient(
            self.settings.central_url,
            f"{self.edge_id}-{uuid.uuid4().hex[:6]}",
            will=Will(self.own_topic("state"), encode(will_env), qos=1, retain=True),
            on_connected=self._on_central_connected,
            reconnect_min_delay=0.2,
            reconnect_max_delay=self.settings.retry_max_delay,
            max_inflight=self.settings.window,
        )
        client.subscribe(host_state_topic(self.settings.host_id), self._on_host_state, qos=1)
        client.subscribe(self.own_topic("config/desired"), self._on_registry, qos=1)
        client.subscribe(self.own_topic("config/counters"), self._on_counters, qos=1)
        client.subscribe(self.own_topic("queue/sync"), self._on_queue_sync, qos=1)
        client.subscribe(self.own_topic("receipt"), self._on_receipt, qos=1)
        client.subscribe(f"fe/v1/{self.branch_id}/+/+/cmd", self._on_downlink, qos=1)
        client.subscribe(f"fe/v1/{self.branch_id}/+/+/config/desired", self._on_downlink, qos=1)
        # Set before connecting: the host STATE may arrive (and call for a birth) before
        # connect() returns to the uplink thread.
        self._central = client
        return client

    def _uplink_loop(self) -> None:
        client = connect_with_retry(
            self._make_central_client,
            self._stop,
            attempt_timeout=3.0,
            max_delay=self.settings.retry_max_delay,
            what=f"edge {self.edge_id}: central broker",
        )
        if client is None:
            return
        self._central = client  # type: ignore[assignment]
        next_stats = time.monotonic() + self.settings.stats_every_s
        while not self._stop.wait(0.5):
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + self.settings.stats_every_s
                self.emit("edge.stats", self.stats_snapshot(), channel="telemetry")

    def stats_snapshot(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.stats.counts.items() if ":" not in k},
            "outbox_pending": self.pending,
            "host_online": self._host_online,
            "devices": len(self._registry),
        }

    def _on_central_connected(self, _client: Any) -> None:
        # A fresh connection knows nothing of the host until its STATE (re)arrives: after a
        # broker restart the retained STATE is gone until the backend republishes it.
        self._born = False
        self._host_online = False
        self._host_session = None
        self.stats.add("central_connects")

    def _on_host_state(self, message: Message) -> None:
        try:
            env = decode_envelope(message.payload, max_skew_s=None)
        except ProtocolError:
            return
        online = bool(env.data.get("online"))
        session = env.data.get("session")
        was = self._host_online
        if online:
            self._host_session = session
            self._receipts = bool(env.data.get("receipts"))
            self._host_online = True
        elif self._host_session in (None, session):
            # Sparkplug's rule: a death counts only for the host session it belongs to, so a
            # late will of an old backend process never hides the newer one's birth.
            self._host_online = False
        if self._host_online and not was:
            log.info("edge %s: central host online", self.edge_id)
            self._birth()
        elif was and not self._host_online:
            log.warning("edge %s: central host offline; storing uplinks", self.edge_id)
            self._born = False

    def _birth(self) -> None:
        central = self._central
        if central is None:
            return
        data = {
            "online": True,
            "session": self._session,
            "branch_id": self.branch_id,
            "devices": len(self._registry),
            "outbox_pending": self.pending,
            "registry_version": int(self.store.kv_get("registry_version", "0") or 0),
        }
        try:
            central.publish(
                self.own_topic("state"),
                encode(self._make_envelope("edge.birth", data)),
                retain=True,
                timeout=5,
            )
        except MqttError as exc:
            log.warning("edge %s: birth not published: %s", self.edge_id, exc)
            return
        self._born = True
        with self._cond:
            # Resume from the oldest row the centre has not confirmed: what was in flight when
            # the link broke goes again first, so the order holds (the centre drops copies).
            self._rewind = True
            self._cond.notify_all()

    def _on_registry(self, message: Message) -> None:
        try:
            env = decode_envelope(message.payload, max_skew_s=None, max_bytes=16 * 1024 * 1024)
            version = env.data.get("version")
            devices = env.data.get("devices")
            if env.type != "edge.registry" or not isinstance(version, int):
                raise ProtocolError("bad_registry", "edge.registry needs version and devices")
            if not isinstance(devices, list):
                raise ProtocolError("bad_registry", "devices must be a list")
            entries = [
                RegistryEntry(
                    device_id=str(d["device_id"]),
                    device_type=str(d["device_type"]),
                    status=str(d["status"]),
                    password_hash=d.get("password_hash"),
                    edge_key=d.get("edge_key"),
                )
                for d in devices
            ]
        except (ProtocolError, KeyError, TypeError) as exc:
            log.warning("edge %s: registry message refused: %s", self.edge_id, exc)
            return
        if version == int(self.store.kv_get("registry_version", "-1") or -1):
            return  # the same registry again (a retained copy after a reconnect)
        self.apply_registry(entries, version)

    def apply_registry(self, entries: list[RegistryEntry], version: int) -> None:
        self.store.replace_registry(entries, version)
        with self._unknown_lock:
            self._registry = {e.device_id: e for e in entries}
            known = {d for d in self._unknown if self._admitted(d)}
            self._unknown -= known
        if self._broker is not None:
            self._broker.set_devices(entries)
        self.stats.add("registry_syncs")
        self.emit(
            "edge.registry_applied",
            {"version": version, "devices": len(entries)},
            channel="config/reported",
        )
        log.info("edge %s: registry v%d with %d devices", self.edge_id, version, len(entries))
        for device_id in sorted(known):  # what they said before (their birth) was dropped
            self._rebirth_registered(device_id)

    def _admitted(self, device_id: str) -> bool:
        entry = self._registry.get(device_id)
        return entry is not None and entry.admitted

    def _remember_unknown(self, device_id: str) -> None:
        """A device the registry does not admit spoke (its birth, retained on the branch
        broker, comes first): remember it for a rebirth once a registry admits it, or ask now
        if one just did (it arrived while this message was being checked)."""
        with self._unknown_lock:
            if not self._admitted(device_id):
                if len(self._unknown) < 10_000:
                    self._unknown.add(device_id)
                return
        self._rebirth_registered(device_id)

    def _rebirth_registered(self, device_id: str) -> None:
        self.stats.add("rebirths_requested")
        self.send_local_command(device_id, "device.rebirth", {"reason": "registered"})

    def _on_counters(self, message: Message) -> None:
        """The hall's counter map (retained ``edge.counters``): the skills the local queue
        calls by and the hall's timezone it numbers by; kept in the edge store, so they hold
        across restarts while offline."""
        try:
            env = decode_envelope(message.payload, max_skew_s=None, max_bytes=1024 * 1024)
            if env.type != "edge.counters":
                raise ValueError(f"unexpected type {env.type}")
            counter_map = CounterMap.from_dict(env.data)
        except (ProtocolError, ValueError) as exc:
            log.warning("edge %s: counter map refused: %s", self.edge_id, exc)
            return
        if self._queue is None:
            return
        if self.queue.set_counter_map(counter_map):
            self.stats.add("counter_map_syncs")
            log.info(
                "edge %s: counter map v%d with %d counters, local day in %s",
                self.edge_id,
                counter_map.version,
                len(counter_map.counters),
                self.queue.timezone,
            )

    def _on_queue_sync(self, message: Message) -> None:
        """What the centre did with the edge's kiosk tickets (``queue.sync``): applied to the
        local queue by time (LocalQueue.apply_sync). Only this handler of the central client
        takes it: the central broker's ACL lets only the backend (and this edge) publish on
        the edge's topics, and devices never log in there; the same topic on the branch broker
        (which devices reach) is ignored like every edge topic. Applying emits no queue event
        (the centre already knows: no echo)."""
        try:
            env = decode_envelope(message.payload, max_skew_s=None, max_bytes=1024 * 1024)
            if env.type != "queue.sync":
                raise ValueError(f"unexpected type {env.type}")
            sync = QueueSync.from_dict(env.data)
        except (ProtocolError, ValueError) as exc:
            self.stats.add("queue_sync_refused")
            log.warning("edge %s: queue sync refused: %s", self.edge_id, exc)
            return
        if self._queue is None:
            return
        try:
            result = self.queue.apply_sync(sync)
        except Exception:  # e.g. the store closing under us; the next full picture repairs it
            self.stats.add("errors")
            log.exception("edge %s: queue sync not applied", self.edge_id)
            return
        self.stats.add("queue_syncs")
        self.stats.add("queue_sync_applied", len(result.applied))
        self.stats.add("queue_sync_unknown", len(result.unknown))
        self.stats.add("queue_sync_refused_entries", result.refused)

    def _on_downlink(self, message: Message) -> None:
        """Commands and desired configs from the centre, relayed unchanged to the device."""
        try:
            parsed = parse_topic(message.topic)
        except ProtocolError:
            return
        if parsed.device_type == "edge":
            return  # our own config/desired is the registry; edge commands are not relayed
        entry = self._registry.get(parsed.device_id)
        if entry is None or not entry.admitted or entry.device_type != parsed.device_type:
            self.stats.add("downlink_unroutable")
            return
        if parsed.channel not in ("cmd", "config/desired"):
            return
        try:
            loads_strict(message.payload, max_bytes=self.settings.max_bytes)
        except ProtocolError:
            self.stats.add("downlink_bad")
            return
        branch = self._branch
        if branch is None:
            return
        if parsed.device_type == "caller" and parsed.channel == "cmd":
            self._call_answered(parsed.device_id, message.payload)
        try:
            branch.publish(
                message.topic, message.payload, retain=parsed.channel == "config/desired", timeout=5
            )
            self.stats.add("downlinks")
        except MqttError as exc:
            self.stats.add("downlink_failed")
            log.warning("edge %s: relay to %s failed: %s", self.edge_id, message.topic, exc)
