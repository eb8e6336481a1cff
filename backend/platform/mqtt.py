"""The one MQTT client wrapper (paho-mqtt 2.x) used by the backend, the edge and the devices.

Habits taken from paho's README and Home Assistant's mqtt component:

- callback API version 2, passed explicitly (without it paho 2.x falls back to the deprecated
  version 1 signatures);
- subscriptions live in a registry and are (re)sent from ``on_connect``, so a reconnect with a
  clean session resubscribes everything;
- one loop style only: paho's own network thread (``loop_start``); reconnects follow an
  exponential backoff with full jitter, fed to paho through ``reconnect_delay_set`` before
  every wait, so a fleet of devices does not reconnect in lock-step after a broker restart;
- messages are handed off the network thread to one worker thread through a bounded queue;
  every handler call is wrapped, logged and counted, so one bad message or handler never stops
  dispatch. One worker keeps per-topic order. A handler may publish (the network thread is
  free to send), but must not block for long: it delays every later message.

Delivery is at least once. Expect duplicates and design for them (the contract de-duplicates
by envelope id): QoS 1 redelivers after a lost PUBACK, overlapping subscriptions can yield one
copy each, and amqtt (the embedded broker) may deliver a retained message twice and delivers at
the *subscription's* QoS. amqtt also replays, on connect, retained messages matching other
clients' subscriptions; messages that match none of ours are counted in ``stats.unmatched``
and dropped.
"""

from __future__ import annotations

import logging
import queue
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.client import topic_matches_sub
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883, "ssl": 8883}
# CONNACK reasons that no amount of retrying will fix: give up on the first connect.
_FATAL_CONNACK = {"Bad user name or password", "Not authorized", "Client identifier not valid"}
_MATCH_CACHE_SIZE = 10_000  # topics whose matching handlers are remembered

__all__ = [
    "Message",
    "MqttClient",
    "MqttConnectError",
    "MqttError",
    "MqttPublishError",
    "MqttSubscribeError",
    "Will",
    "parse_mqtt_url",
    "topic_matches",
]


class MqttError(RuntimeError):
    """Base class of the wrapper's errors."""


class MqttConnectError(MqttError):
    """Could not connect (timeout, or the broker refused the credentials)."""


class MqttPublishError(MqttError):
    """A publish was not confirmed in time. With QoS >= 1 it may still go out later."""


class MqttSubscribeError(MqttError):
    """The broker refused a subscription (SUBACK failure, e.g. an ACL)."""


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class Will:
    """Last will, published by the broker if the connection drops without a DISCONNECT."""

    topic: str
    payload: bytes | str
    qos: int = 1
    retain: bool = True


Handler = Callable[[Message], None]


@dataclass
class Stats:
    received: int = 0
    handled: int = 0
    errors: int = 0
    dropped: int = 0
    unmatched: int = 0
    connects: int = 0
    disconnects: int = 0


@dataclass
class _Subscription:
    qos: int
    handlers: list[Handler] = field(default_factory=list)


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt://user:pass@host:port`` -> (host, port, username, password).

    Schemes mqtt/tcp (default port 1883) and mqtts/ssl (8883, TLS). User and password are
    percent-decoded, so a password may contain ``@`` or ``:`` as ``%40`` and ``%3A``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} (use mqtt:// or mqtts://)")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {url!r} has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise ValueError(f"MQTT URL {url!r}: {exc}") from None
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return parts.hostname, port, username or None, password


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT wildcard matching (``+`` one level, ``#`` the rest), as paho implements it."""
    return topic_matches_sub(topic_filter, topic)


def _check_filter(topic_filter: str) -> None:
    levels = topic_filter.split("/")
    ok = bool(topic_filter) and len(topic_filter.encode("utf-8")) <= 65535
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            ok = False
        if "+" in level and level != "+":
            ok = False
    if not ok:
        raise ValueError(f"invalid MQTT topic filter {topic_filter!r}")


class MqttClient:
    """A connected, self-healing MQTT client. Thread-safe; use as a context manager."""

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        keepalive: int = 30,
        clean_session: bool = True,
        will: Will | None = None,
        on_connected: Callable[[MqttClient], None] | None = None,
        reconnect_min_delay: float = 0.5,
        reconnect_max_delay: float = 30.0,
        queue_size: int = 100_000,
        max_queued_publishes: int = 10_000,
    ) -> None:
        self.url = url
        self.client_id = client_id
        self.host, self.port, self.username, password = parse_mqtt_url(url)
        self.keepalive = keepalive
        self.stats = Stats()
        self._on_connected = on_connected
        self._min_delay = reconnect_min_delay
        self._max_delay = reconnect_max_delay
        self._attempt = 0
        self._lock = threading.RLock()
        self._subs: dict[str, _Subscription] = {}
        self._matched: dict[str, list[Handler]] = {}  # topic -> handlers, see _handlers_for
        self._pending_subacks: dict[int, tuple[threading.Event, list[ReasonCode]]] = {}
        self._connected = threading.Event()
        self._ever_connected = False
        self._fatal: str | None = None
        self._first_result = threading.Event()
        self._closing = False
        self._started = False
        self._queue: queue.Queue[Message | Callable[[], None] | None] = queue.Queue(queue_size)
        self._idle = threading.Condition()
        self._unfinished = 0

        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
        if self.username is not None:
            client.username_pw_set(self.username, password)
        if urlsplit(url).scheme.lower() in ("mqtts", "ssl"):
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.max_queued_messages_set(max_queued_publishes)
        client.reconnect_delay_set(self._min_delay, self._max_delay)
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        # A callback that raised would otherwise end paho's network thread for good.
        client.suppress_exceptions = True
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        self._client = client
        self._worker = threading.Thread(
            target=self._work, name=f"mqtt-dispatch-{client_id}", daemon=True
        )

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def connect(self, timeout: float = 10.0) -> MqttClient:
        """Start the network and dispatch threads and block until the broker accepted us.

        Raises MqttConnectError on timeout or when the broker refuses the credentials; after
        a first success, later disconnects are healed in the background.
        """
        if self._started:
            raise MqttError("connect() called twice")
        self._started = True
        self._worker.start()
        self._client.connect_async(self.host, self.port, self.keepalive)
        self._client.loop_start()
        if not self._first_result.wait(timeout):
            self.close()
            raise MqttConnectError(
                f"{self.client_id}: no connection to {self.host}:{self.port} within {timeout}s"
            )
        if self._fatal is not None:
            reason = self._fatal
            self.close()
            raise MqttConnectError(f"{self.client_id}: broker refused the connection: {reason}")
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def subscribe(
        self, topic_filter: str, handler: Handler, qos: int = 1, *, timeout: float = 10.0
    ) -> None:
        """Register ``handler`` for ``topic_filter``; also after every reconnect.

        When connected, waits for the SUBACK and raises MqttSubscribeError if the broker
        refused (the registration stays and is retried on the next reconnect).
        """
        _check_filter(topic_filter)
        with self._lock:
            sub = self._subs.setdefault(topic_filter, _Subscription(qos))
            sub.qos = max(sub.qos, qos)
            sub.handlers.append(handler)
            qos = sub.qos
            self._matched.clear()
        if self.connected:
            self._subscribe_now([(topic_filter, qos)], timeout)

    def unsubscribe(self, topic_filter: str) -> None:
        with self._lock:
            self._subs.pop(topic_filter, None)
            self._matched.clear()
        if self.connected:
            self._client.unsubscribe(topic_filter)

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 1,
        retain: bool = False,
        *,
        timeout: float = 10.0,
    ) -> None:
        """Publish and return once the message left (QoS 0) or was acknowledged (QoS 1, 2).

        Waits up to ``timeout`` for a connection first. Raises MqttPublishError otherwise.
        Must not be called from paho's network thread (it would wait on itself).
        """
        deadline = time.monotonic() + timeout
        if not self._connected.wait(timeout):
            raise MqttPublishError(f"{self.client_id}: not connected, {topic} not published")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise MqttPublishError(f"{self.client_id}: outgoing queue full")
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise MqttPublishError(
                f"{self.client_id}: publish to {topic} failed: {paho.error_string(info.rc)}"
                + (" (queued; it will be sent after reconnecting)" if qos else "")
            )
        try:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:
            raise MqttPublishError(f"{self.client_id}: publish to {topic} failed: {exc}") from exc
        if not info.is_published():
            raise MqttPublishError(f"{self.client_id}: publish to {topic} not acknowledged")

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every received message has been dispatched (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (no last will), stop both threads. Safe to call twice."""
        if self._closing:
            return
        self._closing = True
        if self._started:
            try:
                self._client.disconnect()
            finally:
                self._client.loop_stop()
            # Messages already received are still dispatched (up to ``timeout``), then stop.
            in_worker = threading.current_thread() is self._worker
            self._enqueue(None, block_s=0 if in_worker else timeout)
            if self._worker.is_alive() and not in_worker:
                self._worker.join(timeout)
        self._connected.clear()

    def __enter__(self) -> MqttClient:
        if not self._started:
            self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<MqttClient {self.client_id} {self.host}:{self.port} {state}>"

    # ------------------------------------------------------------------ paho callbacks
    # These run on paho's network thread: never block here, never call user code.

    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            reason = str(reason_code)
            log.warning("%s: broker refused connection: %s", self.client_id, reason)
            if not self._ever_connected and reason in _FATAL_CONNACK:
                self._fatal = reason
                self._first_result.set()
            self._schedule_backoff()
            return
        self._ever_connected = True
        self._attempt = 0
        self.stats.connects += 1
        with self._lock:
            subs = [(f, s.qos) for f, s in self._subs.items()]
        if subs:
            # Fire and forget: the SUBACK arrives on this very thread.
            result, _mid = client.subscribe(subs)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.warning("%s: resubscribe failed: %s", self.client_id, result)
        self._connected.set()
        self._first_result.set()
        log.info("%s: connected to %s:%d", self.client_id, self.host, self.port)
        if self._on_connected is not None:
            callback = self._on_connected
            self._enqueue(lambda: callback(self), block_s=5.0)

    def _handle_connect_fail(self, client, userdata) -> None:
        self._schedule_backoff()

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected:
            self.stats.disconnects += 1
        if self._closing or self._fatal is not None:
            return
        log.warning("%s: disconnected (%s), reconnecting", self.client_id, reason_code)
        self._schedule_backoff()

    def _handle_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._lock:
            pending = self._pending_subacks.pop(mid, None)
        if pending is not None:
            event, codes = pending
            codes.extend(reason_codes)
            event.set()
        elif any(code.is_failure for code in reason_codes):
            log.warning("%s: broker refused a resubscription: %s", self.client_id, reason_codes)

    def _handle_message(self, client, userdata, msg: paho.MQTTMessage) -> None:
        self.stats.received += 1
        self._enqueue(Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    # ------------------------------------------------------------------ internals

    def _schedule_backoff(self) -> None:
        # Full jitter: uniform(0, min(cap, base * 2**attempt)), never below base/2 so a dead
        # broker is not hammered. paho waits reconnect_delay_set's min_delay after a reset.
        self._attempt = min(self._attempt + 1, 30)
        ceiling = min(self._max_delay, self._min_delay * (2 ** (self._attempt - 1)))
        delay = max(self._min_delay / 2, random.uniform(0, ceiling))
        self._client.reconnect_delay_set(min_delay=delay, max_delay=delay)  # type: ignore[arg-type]

    def _subscribe_now(self, subs: list[tuple[str, int]], timeout: float) -> None:
        event = threading.Event()
        codes: list[ReasonCode] = []
        with self._lock:  # hold the lock so the SUBACK cannot beat the registration
            result, mid = self._client.subscribe(subs)
            if result == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                self._pending_subacks[mid] = (event, codes)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            if result == MQTTErrorCode.MQTT_ERR_NO_CONN:
                return  # on_connect will subscribe
            raise MqttSubscribeError(f"{self.client_id}: subscribe failed: {result}")
        if not event.wait(timeout):
            with self._lock:
                self._pending_subacks.pop(mid, None)
            raise MqttSubscribeError(f"{self.client_id}: no SUBACK for {subs} within {timeout}s")
        refused = [f for (f, _), code in zip(subs, codes, strict=False) if code.is_failure]
        if refused:
            raise MqttSubscribeError(f"{self.client_id}: broker refused subscription {refused}")

    def _enqueue(self, item: Message | Callable[[], None] | None, block_s: float = 0) -> None:
        # Never block paho's network thread for long: a handler waiting for a PUBACK needs it.
        with self._idle:
            self._unfinished += 1
        try:
            if block_s > 0:
                self._queue.put(item, timeout=block_s)
            else:
                self._queue.put_nowait(item)
        except queue.Full:
            self._task_done()
            self.stats.dropped += 1
            if self.stats.dropped in (1, 10, 100) or self.stats.dropped % 1000 == 0:
                log.error("%s: dispatch queue full, %d dropped", self.client_id, self.stats.dropped)

    def _task_done(self) -> None:
        with self._idle:
            self._unfinished -= 1
            if not self._unfinished:
                self._idle.notify_all()

    def _handlers_for(self, topic: str) -> list[Handler]:
        # Matching a topic against every filter costs more than the message's handling on a
        # busy link; the answer per topic is cached until the subscriptions change.
        with self._lock:
            cached = self._matched.get(topic)
            if cached is not None:
                return cached
            handlers = [
                handler
                for topic_filter, sub in self._subs.items()
                if topic_matches_sub(topic_filter, topic)
                for handler in sub.handlers
            ]
            if len(self._matched) >= _MATCH_CACHE_SIZE:
                self._matched.clear()
            self._matched[topic] = handlers
            return handlers

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if isinstance(item, Message):
                    self._dispatch(item)
                else:
                    self._call(item, "on_connected callback")
            finally:
                self._task_done()

    def _dispatch(self, message: Message) -> None:
        handlers = self._handlers_for(message.topic)
        if not handlers:
            self.stats.unmatched += 1
            log.debug("%s: no handler for %s, dropped", self.client_id, message.topic)
            return
        for handler in handlers:
            if self._call(lambda h=handler: h(message), f"handler for {message.topic}"):
                self.stats.handled += 1

    def _call(self, func: Callable[[], None], what: str) -> bool:
        try:
            func()
        except Exception:
            self.stats.errors += 1
            log.exception("%s: %s raised; dispatch continues", self.client_id, what)
            return False
        return True
