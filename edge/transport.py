"""What the edge and the simulators need from MQTT beyond ``backend.platform.mqtt.MqttClient``.

- ``publish_nowait``: hand a QoS 1 message to paho and return its MQTTMessageInfo at once, so
  that a window of messages is in flight together (the outbox forwarder and the device
  senders; waiting for each PUBACK in turn would cap a link at one message per round trip).
  paho keeps the order of the calls on the wire and, after a reconnect, sends unacknowledged
  messages again, in order.
- ``abort``: drop the TCP connection without DISCONNECT, as a crashing device would, so the
  broker publishes the last will (fault injection).
- ``connect_with_retry``: MqttClient gives up on its first connect after a timeout or a
  refusal (for instance while the edge has not yet synced a device's credentials); this keeps
  trying with fresh clients until it succeeds or is told to stop.

These reach into MqttClient's paho client (``_client``): the wrapper has no non-blocking
publish. If one is added upstream, this module shrinks to ``connect_with_retry``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from backend.platform.mqtt import MqttClient, MqttConnectError, MqttPublishError

log = logging.getLogger(__name__)

DEFAULT_INFLIGHT = 200


class PipelinedMqttClient(MqttClient):
    """MqttClient with a window of QoS 1 messages in flight and an abrupt-drop switch."""

    def __init__(self, *args, max_inflight: int = DEFAULT_INFLIGHT, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._client.max_inflight_messages_set(max_inflight)

    def publish_nowait(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False
    ) -> paho.MQTTMessageInfo:
        """Queue a publish; raise MqttPublishError unless connected and accepted by paho."""
        if not self.connected:
            raise MqttPublishError(f"{self.client_id}: not connected, {topic} not published")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise MqttPublishError(
                f"{self.client_id}: publish to {topic} failed: {paho.error_string(info.rc)}"
            )
        return info

    def abort(self) -> None:
        """Close the socket without DISCONNECT: the broker sends our will; paho reconnects."""
        sock = self._client.socket()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                log.debug("%s: abort: socket close failed", self.client_id, exc_info=True)


def connect_with_retry(
    factory: Callable[[], MqttClient],
    stop: threading.Event,
    *,
    attempt_timeout: float = 5.0,
    min_delay: float = 0.2,
    max_delay: float = 5.0,
    what: str = "broker",
) -> MqttClient | None:
    """Connect a fresh client from ``factory`` until one succeeds; None once ``stop`` is set."""
    delay = min_delay
    failures = 0
    while not stop.is_set():
        client = factory()
        try:
            return client.connect(timeout=attempt_timeout)
        except MqttConnectError as exc:
            failures += 1
            if failures in (1, 10) or failures % 100 == 0:
                log.warning("%s not reachable yet (%s); retrying", what, exc)
        stop.wait(random.uniform(delay / 2, delay))
        delay = min(max_delay, delay * 2)
    return None


def wait_published(infos: list[paho.MQTTMessageInfo], timeout: float) -> int:
    """Wait up to ``timeout`` for the infos in order; return how many leading ones completed."""
    deadline = time.monotonic() + timeout
    done = 0
    for info in infos:
        remaining = deadline - time.monotonic()
        try:
            if not info.is_published():
                info.wait_for_publish(max(0.0, remaining))
        except (RuntimeError, ValueError):
            break
        if not info.is_published():
            break
        done += 1
    return done
