"""The small base class every simulated device kind builds on.

A ``SimulatedDevice`` speaks CONTRACT §3 on its branch broker, logged in as itself
(username = device id):

- on (re)connect it publishes a *birth* on ``state`` (retained, type ``device.birth``, the full
  state document and a session id); its last will is the matching *death* (``device.death``,
  same session id), so a stale death never overrides a newer birth (Sparkplug's bdSeq idea);
- every message carries ``seq`` +1 per device; messages wait in a bounded local buffer while
  the broker is unreachable and go out in order afterwards, marked ``historical`` when they
  waited long;
- ``cmd``: each command is verified (signature with the device secret, or with the derived edge
  key for ``EDGE_COMMAND_TYPES``; expiry; nonce never seen) before anything acts, and answered
  on ``ack`` with ok, rejected or failed;
- ``config/desired``: versioned desired configuration, applied by the kind and reported back
  on ``config/reported``.

Subclasses define ``device_type``, ``initial_state()``, ``state_doc()``, ``telemetry()``,
``simulate(now, dt)`` for autopilot activity, ``apply_config()``, and command handlers marked
with ``@command("kind.name")``. State changes happen under ``self.lock``; command handlers
run on the MQTT dispatch thread, ``tick`` on the fleet's thread.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from backend.platform.mqtt import (
    Message,
    MqttClient,
    MqttPublishError,
    Will,
    connect_with_retry,
    parse_mqtt_url,
    wait_published,
)
from devices.faults import Faults
from devices.identity import DeviceIdentity
from devices.outgoing import Outgoing, new_envelope
from edge.credentials import EDGE_COMMAND_TYPES, derive_edge_key, secret_bytes
from edge.protocol import (
    Ack,
    Envelope,
    NonceCache,
    ProtocolError,
    build_topic,
    decode_envelope,
    encode,
    loads_strict,
    make_ack,
    make_envelope,
    verify_command,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class CommandRejected(Exception):
    """The command is refused before acting (bad arguments, wrong state): ack ``rejected``."""


class CommandFailed(Exception):
    """The command was tried and did not succeed: ack ``failed``."""


def command(name: str):
    """Mark a method as the handler of command type ``name``: ``handler(self, args) -> str``."""

    def mark(func):
        func._command_name = name
        return func

    return mark


class SimulatedDevice:
    device_type: ClassVar[str] = ""
    telemetry_interval_s: ClassVar[float] = 15.0
    _handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                name = getattr(value, "_command_name", None)
                if name:
                    handlers[name] = attr
        cls._handlers = handlers

    @classmethod
    def handled_commands(cls) -> tuple[str, ...]:
        """The command types this kind's simulator acts on (``@command`` handlers)."""
        return tuple(cls._handlers)

    def __init__(
        self,
        identity: DeviceIdentity,
        broker_url: str,
        *,
        faults: Faults | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        autopilot: bool = False,
        buffer_size: int = 10_000,
        window: int = 100,
        historical_after_s: float = 30.0,
        retry_max_delay: float = 3.0,
    ) -> None:
        if identity.device_type != self.device_type:
            raise ValueError(f"{identity.device_id} is a {identity.device_type}, not a {self}")
        self.identity = identity
        self.device_id = identity.device_id
        self.branch_id = identity.branch_id
        self.faults = faults or Faults()
        self.rng = rng or random.Random()
        self.autopilot = autopilot
        self.lock = threading.RLock()
        self.stats: Counter[str] = Counter()
        self.acted: list[tuple[str, dict]] = []  # commands that changed something
        self.acks: list[Ack] = []
        self.config: dict[str, Any] = dict(self.default_config())
        self.config_version = 0
        self.state: dict[str, Any] = self.initial_state()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._broker_url = broker_url
        self._secret = secret_bytes(identity.hmac_secret)
        self._edge_key = derive_edge_key(self._secret)
        self._nonces = NonceCache(ttl_s=3600, max_entries=10_000)
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._pending: deque[Outgoing] = deque()
        self._cond = threading.Condition()
        self._buffer_size = buffer_size
        self._window = window
        self._topics: dict[str, str] = {}  # channel -> topic, see topic()
        self._historical_after_s = historical_after_s
        self._retry_max_delay = retry_max_delay
        self._client: MqttClient | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._session = uuid.uuid4().hex
        self._last_tick: float | None = None
        self._next_telemetry = 0.0
        self._next_disconnect: float | None = None

    # ------------------------------------------------------------------ kind hooks

    def default_config(self) -> dict[str, Any]:
        return {"telemetry_interval_s": self.telemetry_interval_s}

    def initial_state(self) -> dict[str, Any]:
        return {}

    def state_doc(self) -> dict[str, Any]:
        """The state document in births and state messages."""
        return dict(self.state)

    def telemetry(self) -> tuple[str, dict[str, Any]] | None:
        """(type, data) of the periodic telemetry message, or None."""
        return None

    def simulate(self, now: float, dt: float) -> None:
        """Autopilot activity between ticks (customers, cash, faults); off in tests."""

    def on_tick(self, now: float) -> None:
        """The device's own timers (auto relock, timeouts); runs with or without autopilot."""

    def apply_config(self, config: dict[str, Any]) -> dict[str, str]:
        """Apply a desired configuration; return {key: reason} for keys not applied."""
        rejected = {}
        for key, value in config.items():
            if key == "telemetry_interval_s":
                if not isinstance(value, int | float) or not 1 <= value <= 3600:
                    rejected[key] = "must be a number of seconds in [1, 3600]"
                    continue
            elif key not in self.config:
                rejected[key] = "unknown setting"
                continue
            self.config[key] = value
        return rejected

    # ------------------------------------------------------------------ lifecycle

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.branch_id}/{self.device_id}>"

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    @property
    def seq(self) -> int:
        return self._seq

    def topic(self, channel: str) -> str:
        topic = self._topics.get(channel)
        if topic is None:
            topic = build_topic(self.branch_id, self.device_type, self.device_id, channel)
            self._topics[channel] = topic
        return topic

    def _url(self) -> str:
        """The broker URL with this device's own login (its scheme and options kept: a
        device on a TLS listener, ``mqtts://...?cafile=``, stays on TLS)."""
        host, port, _user, _pw = parse_mqtt_url(self._broker_url)
        user = quote(self.identity.mqtt_username, safe="")
        password = quote(self.identity.mqtt_password, safe="")
        parts = urlsplit(self._broker_url)
        return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}:{port}"))

    def start(self) -> SimulatedDevice:
        """Connect in the background (retrying until the broker accepts us) and start sending."""
        if self._threads:
            raise RuntimeError(f"{self} already started")
        self._stop = threading.Event()
        self._session = uuid.uuid4().hex
        stop = self._stop
        for target, name in ((self._connect_loop, "connect"), (self._send_loop, "send")):
            thread = threading.Thread(
                target=target, args=(stop,), name=f"dev-{self.device_id}-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def wait_connected(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected:
                return True
            time.sleep(0.02)
        return False

    def stop(self, *, graceful: bool = True, flush_s: float = 2.0) -> None:
        """Stop: graceful publishes the death first; otherwise the broker sends the will."""
        client = self._client
        if graceful and client is not None and client.connected:
            self.publish("state", "device.death", self._death_data(), retain=True)
            self.flush(flush_s)
        elif client is not None:
            client.abort()
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        if client is not None:
            client.close()
        self._client = None

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every buffered message was acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    @property
    def buffered(self) -> int:
        """Messages waiting in the device's local buffer (not yet acknowledged by the broker)."""
        return len(self._pending)

    def drop_connection(self) -> None:
        """Fault: lose the connection abruptly; the will fires, paho reconnects, rebirth."""
        self.stats["disconnects"] += 1
        if self._client is not None:
            self._client.abort()

    def _death_data(self) -> dict[str, Any]:
        return {"online": False, "session": self._session}

    def _make_client(self) -> MqttClient:
        will_env = make_envelope("device.death", self._death_data(), self._seq, now=self.now())
        client = MqttClient(
            self._url(),
            f"{self.device_id}-{uuid.uuid4().hex[:6]}",
            will=Will(self.topic("state"), encode(will_env), qos=1, retain=True),
            on_connected=self._on_connected,
            reconnect_min_delay=0.2,
            reconnect_max_delay=self._retry_max_delay,
        )
        client.subscribe(self.topic("cmd"), self._on_command, qos=1)
        client.subscribe(self.topic("config/desired"), self._on_desired, qos=1)
        return client

    def _connect_loop(self, stop: threading.Event) -> None:
        client = connect_with_retry(
            self._make_client,
            stop,
            attempt_timeout=2.0,
            max_delay=self._retry_max_delay,
            what=f"{self.device_id}: branch broker",
            quiet=True,  # the fleet says once that its devices wait (devices/fleet.py)
        )
        if client is None:
            return
        if stop.is_set():
            client.close()
            return
        self._client = client
        with self._cond:
            self._cond.notify_all()

    def _on_connected(self, _client: Any) -> None:
        self.stats["connects"] += 1
        self.birth()

    def birth(self) -> None:
        with self.lock:
            data = {
                "online": True,
                "session": self._session,
                "model": self.identity.model,
                "config_version": self.config_version,
                "state": self.state_doc(),
            }
        self.publish("state", "device.birth", data, retain=True)

    # ------------------------------------------------------------------ publishing

    def now(self) -> datetime:
        return self._clock() + timedelta(seconds=self.faults.clock_skew_s)

    def _next_seq(self) -> int:
        with self._seq_lock:
            if self.faults.gap_rate and self.rng.random() < self.faults.gap_rate:
                self._seq += 1  # a message "lost" on the device: the edge sees a gap
                self.stats["gaps"] += 1
            self._seq += 1
            return self._seq

    def publish(
        self, channel: str, type_: str, data: dict[str, Any], *, retain: bool = False
    ) -> Envelope:
        """Queue one envelope for ``channel`` (fault injection applies here)."""
        topic = self.topic(channel)
        if self.faults.garbage_rate and self.rng.random() < self.faults.garbage_rate:
            self.inject_raw(channel, os.urandom(self.rng.randint(1, 64)))
        env = new_envelope(type_, data, self._next_seq(), self.now())
        if self.faults.oversize_rate and self.rng.random() < self.faults.oversize_rate:
            self.inject_raw(channel, encode(env.replace(data={"pad": "x" * 70_000})))
        copies = (
            2
            if self.faults.duplicate_rate and self.rng.random() < self.faults.duplicate_rate
            else 1
        )
        for _ in range(copies):
            self._enqueue(Outgoing(topic, env, None, retain))
        if copies == 2:
            self.stats["duplicates"] += 1
        self.stats["published"] += 1
        return env

    def inject_raw(self, channel: str, payload: bytes, *, topic: str | None = None) -> None:
        """Fault: publish arbitrary bytes (garbage, oversize) on one of our topics."""
        self.stats["garbage"] += 1
        self._enqueue(Outgoing(topic or self.topic(channel), None, payload, False))

    def _enqueue(self, item: Outgoing) -> None:
        with self._cond:
            if len(self._pending) >= self._buffer_size:
                self._pending.popleft()  # a real device's ring buffer: the oldest goes
                self.stats["buffer_overflow"] += 1
            self._pending.append(item)
            self._cond.notify_all()

    def _send_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._cond:
                while not self._pending and not stop.is_set():
                    self._cond.wait(0.5)
                batch = [self._pending[i] for i in range(min(self._window, len(self._pending)))]
            client = self._client
            if not batch or client is None or not client.connected:
                stop.wait(0.02)
                continue
            infos = []
            try:
                for item in batch:
                    payload = item.payload(self._historical_after_s)
                    infos.append(client.publish_nowait(item.topic, payload, 1, item.retain))
            except MqttPublishError:
                pass
            done = wait_published(infos, timeout=5.0)
            with self._cond:
                for _ in range(done):
                    if self._pending:
                        self._pending.popleft()
                self._cond.notify_all()
            if done < len(batch):
                stop.wait(0.05)  # disconnected: paho resends in flight; we retry the rest

    # ------------------------------------------------------------------ downlink

    def _on_command(self, message: Message) -> None:
        self.stats["commands"] += 1
        try:
            obj = loads_strict(message.payload)
        except ProtocolError as exc:
            self.stats["commands_rejected"] += 1
            log.info("%s: unreadable command dropped: %s", self.device_id, exc.code)
            return
        command_id = obj.get("id") if isinstance(obj, dict) else None
        type_ = obj.get("type") if isinstance(obj, dict) else None
        keys = [self._secret]
        if type_ in EDGE_COMMAND_TYPES:
            keys.append(self._edge_key)
        env: Envelope | None = None
        error: ProtocolError | None = None
        for key in keys:
            try:
                env = verify_command(obj, key, now=self._clock(), seen_nonce=self._nonces)
                break
            except ProtocolError as exc:
                error = exc
                if exc.code != "bad_signature":
                    break
        if env is None:
            assert error is not None
            self.stats["commands_rejected"] += 1
            log.info("%s: command %s refused: %s", self.device_id, command_id, error.code)
            if isinstance(command_id, str):
                self._ack(command_id, "rejected", error.code)
            return
        handler_name = self._handlers.get(env.type)
        if handler_name is None:
            self._ack(env.id, "rejected", "unknown_command")
            return
        if self.faults.ack_delay_s:
            time.sleep(self.faults.ack_delay_s)
        try:
            with self.lock:
                reason = getattr(self, handler_name)(dict(env.data)) or ""
        except CommandRejected as exc:
            self._ack(env.id, "rejected", str(exc))
            return
        except CommandFailed as exc:
            self._ack(env.id, "failed", str(exc))
            return
        except Exception as exc:  # a bug in a handler must not kill the device
            log.exception("%s: handler %s raised", self.device_id, env.type)
            self._ack(env.id, "failed", f"internal error: {type(exc).__name__}")
            return
        self.acted.append((env.type, dict(env.data)))
        self._ack(env.id, "ok", reason)

    def _ack(self, command_id: str, status: str, reason: str) -> None:
        try:
            ack_env = make_ack(command_id, status, reason[:200], self._next_seq(), now=self.now())
        except ProtocolError:
            return  # the id was not a uuid: nothing to answer to
        self.acks.append(Ack(command_id, status, reason))
        self._enqueue(Outgoing(self.topic("ack"), ack_env, None, False))

    def _on_desired(self, message: Message) -> None:
        try:
            env = decode_envelope(message.payload, max_skew_s=None)
            version = env.data.get("version")
            config = env.data.get("config")
            if not isinstance(version, int) or not isinstance(config, dict):
                raise ProtocolError("bad_config", "config.desired needs version and config")
        except ProtocolError as exc:
            log.info("%s: desired config dropped: %s", self.device_id, exc.code)
            return
        with self.lock:
            if version <= self.config_version:
                return  # already applied (retained copies arrive again on reconnect)
            rejected = self.apply_config(config)
            self.config_version = version
            reported = {"version": version, "config": dict(self.config), "rejected": rejected}
        self.publish("config/reported", "config.reported", reported, retain=True)

    # ------------------------------------------------------------------ time

    def tick(self, now: float | None = None) -> None:
        """Advance the device: telemetry when due, faults, autopilot. Called by the fleet."""
        now = time.monotonic() if now is None else now
        dt = 0.0 if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        if self.faults.disconnect_every_s:
            if self._next_disconnect is None:
                self._next_disconnect = now + self.rng.expovariate(
                    1 / self.faults.disconnect_every_s
                )
            elif now >= self._next_disconnect:
                self._next_disconnect = None
                self.drop_connection()
        with self.lock:
            self.on_tick(now)
            if self.autopilot:
                self.simulate(now, dt)
        if now >= self._next_telemetry and self.connected:
            self._next_telemetry = now + float(self.config.get("telemetry_interval_s", 15))
            self.send_telemetry()

    def send_telemetry(self) -> None:
        with self.lock:
            item = self.telemetry()
        if item is not None:
            self.publish("telemetry", item[0], item[1])

    def publish_state(self) -> None:
        """The full state document on ``state`` (retained), after a significant change."""
        with self.lock:
            data = {"online": True, "session": self._session, "state": self.state_doc()}
        self.publish("state", f"{self.device_type}.state", data, retain=True)

    # ------------------------------------------------------------------ common commands

    @command("device.rebirth")
    def cmd_rebirth(self, _args: dict) -> str:
        self.birth()
        return "birth republished"

    @command("device.ping")
    def cmd_ping(self, _args: dict) -> str:
        return "pong"
