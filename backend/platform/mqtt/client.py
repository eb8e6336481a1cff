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
  free to send), but must not block for long: it delays every later message;
- two ways to publish: ``publish`` returns once the broker confirmed (one message per round
  trip), ``publish_nowait`` returns a ``Delivery`` at once so that a window of up to
  ``max_inflight`` QoS 1 messages is in flight together (``wait_published`` waits for a run of
  them in order). ``abort`` drops the connection without DISCONNECT (fault injection: the
  broker sends the will).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.client import topic_matches_sub
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from backend.platform.mqtt.messages import (
    Delivery,
    Handler,
    Message,
    MqttConnectError,
    MqttError,
    MqttPublishError,
    MqttSubscribeError,
    Stats,
    Will,
)
from backend.platform.mqtt.names import (
    check_filter,
    parse_mqtt_url,
    tls_ca_file,
    url_options,
    uses_tls,
)

log = logging.getLogger(__name__)

# paho's own log lines, under one stable name (``finedge edge`` and the benchmarks quiet it).
PAHO_LOGGER = "backend.platform.mqtt.paho"
# CONNACK reasons that no amount of retrying will fix: give up on the first connect.
_FATAL_CONNACK = {"Bad user name or password", "Not authorized", "Client identifier not valid"}
_MATCH_CACHE_SIZE = 10_000  # topics whose matching handlers are remembered
# QoS 1 messages in flight at once (paho's default is 20): a link that publishes without
# waiting (``publish_nowait``) keeps this many unacknowledged messages on the wire.
DEFAULT_INFLIGHT = 200


class _Paho(paho.Client):
    """paho's client with one fix: a TLS handshake that fails closes its socket (paho 2.2
    leaves the wrapped socket open, a file descriptor and a ResourceWarning per attempt) and
    is remembered (``tls_error``), so a broker certificate we do not trust fails the first
    connect at once instead of being retried until the timeout."""

    tls_error: str | None = None

    def _ssl_wrap_socket(self, tcp_sock):  # type: ignore[no-untyped-def]
        context = self._ssl_context
        assert context is not None and context.check_hostname  # hostname checked by ssl
        ssl_sock = context.wrap_socket(
            tcp_sock, server_hostname=self._host, do_handshake_on_connect=False
        )
        try:
            ssl_sock.settimeout(self._connect_timeout)
            ssl_sock.do_handshake()
        except BaseException as exc:
            ssl_sock.close()
            if isinstance(exc, ssl.SSLCertVerificationError):
                self.tls_error = f"TLS: {exc.verify_message or exc}"
            raise
        self.tls_error = None
        return ssl_sock


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the broker's certificate and host name (against ``ca_file``, else the system's
    CAs); TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass
class _Subscription:
    qos: int
    handlers: list[Handler] = field(default_factory=list)


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
        max_inflight: int = DEFAULT_INFLIGHT,
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
        # the SUBACK of the subscriptions renewed at the latest (re)connection (wait_subscribed)
        self._resubscribe_mid: int | None = None
        self._resubscribed = threading.Event()
        self._connected = threading.Event()
        self._ever_connected = False
        self._fatal: str | None = None
        self._first_result = threading.Event()
        self._closing = False
        self._started = False
        self._queue: queue.Queue[Message | Callable[[], None] | None] = queue.Queue(queue_size)
        self._idle = threading.Condition()
        self._unfinished = 0

        client = _Paho(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
        if self.username is not None:
            client.username_pw_set(self.username, password)
        if uses_tls(url):
            # The broker's certificate and host name are verified (CERT_REQUIRED), against the
            # URL's ``cafile`` or FINEDGE_MQTT_CA_FILE when given, else the system's CAs.
            client.tls_set_context(_tls_context(tls_ca_file(url)))
        elif url_options(url):
            raise ValueError(f"MQTT URL options need mqtts:// (TLS): {url_options(url)}")
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.max_queued_messages_set(max_queued_publishes)
        client.max_inflight_messages_set(max_inflight)
        client.reconnect_delay_set(self._min_delay, self._max_delay)
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        # A callback that raised would otherwise end paho's network thread for good.
        client.suppress_exceptions = True
        client.enable_logger(logging.getLogger(PAHO_LOGGER))
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

    def wait_subscribed(self, timeout: float) -> bool:
        """Connected, and the broker has acknowledged the subscriptions registered before the
        connection (True), or not within ``timeout`` (False)."""
        return self._connected.wait(timeout) and self._resubscribed.wait(timeout)

    def subscribe(
        self, topic_filter: str, handler: Handler, qos: int = 1, *, timeout: float = 10.0
    ) -> None:
        """Register ``handler`` for ``topic_filter``; also after every reconnect.

        When connected, waits for the SUBACK and raises MqttSubscribeError if the broker
        refused (the registration stays and is retried on the next reconnect).
        """
        check_filter(topic_filter)
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

    def publish_nowait(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False
    ) -> Delivery:
        """Hand a message to the client and return at once, with its Delivery.

        For a window of messages in flight together (the edge's outbox, the device senders,
        the hub's receipts): waiting for each PUBACK in turn would cap a link at one message
        per round trip. The client keeps the order of the calls on the wire and, after a
        reconnect, sends unacknowledged QoS 1 messages again, in order. Raises
        MqttPublishError unless connected and the message was accepted. Safe on any thread.
        """
        if not self.connected:
            raise MqttPublishError(f"{self.client_id}: not connected, {topic} not published")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise MqttPublishError(
                f"{self.client_id}: publish to {topic} failed: {paho.error_string(info.rc)}"
            )
        return info

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT, as a crashing device would: the broker
        publishes our last will, and the client reconnects (fault injection)."""
        sock = self._client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                log.debug("%s: abort: socket close failed", self.client_id, exc_info=True)

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
            # Before the first connection the refusal goes to connect()'s caller (which says
            # so once, e.g. connect_with_retry); a refused reconnection is ours to report.
            told = not self._ever_connected and reason in _FATAL_CONNACK
            log.log(
                logging.DEBUG if told else logging.WARNING,
                "%s: broker refused connection: %s",
                self.client_id,
                reason,
            )
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
        self._resubscribed.clear()
        if subs:
            # Fire and forget: the SUBACK arrives on this very thread.
            result, mid = client.subscribe(subs)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.warning("%s: resubscribe failed: %s", self.client_id, result)
            self._resubscribe_mid = mid
        else:
            self._resubscribed.set()
        self._connected.set()
        self._first_result.set()
        log.info("%s: connected to %s:%d", self.client_id, self.host, self.port)
        if self._on_connected is not None:
            callback = self._on_connected
            self._enqueue(lambda: callback(self), block_s=5.0)

    def _handle_connect_fail(self, client, userdata) -> None:
        if not self._ever_connected and client.tls_error is not None:
            log.warning("%s: %s", self.client_id, client.tls_error)
            self._fatal = client.tls_error  # a certificate we do not trust: retrying won't do
            self._first_result.set()
            return
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
        if mid == self._resubscribe_mid:
            self._resubscribed.set()
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


def wait_published(deliveries: Sequence[Delivery], timeout: float) -> int:
    """Wait up to ``timeout`` for ``deliveries`` in order; how many leading ones completed."""
    deadline = time.monotonic() + timeout
    done = 0
    for delivery in deliveries:
        remaining = deadline - time.monotonic()
        try:
            if not delivery.is_published():
                delivery.wait_for_publish(max(0.0, remaining))
        except (RuntimeError, ValueError):
            break
        if not delivery.is_published():
            break
        done += 1
    return done
