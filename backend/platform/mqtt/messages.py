"""What the MQTT client hands around: messages, last wills, delivery handles, counters, errors.

Plain values with no paho in their signatures, so the edge, the devices and the backend can
type against them without knowing the library underneath.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


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


class Delivery(Protocol):
    """A message handed to the client by ``MqttClient.publish_nowait``: whether the broker
    confirmed it (PUBACK for QoS 1; sent for QoS 0), and a wait for that. ``wait_for_publish``
    raises RuntimeError or ValueError when the message can no longer go out as it is (the
    client stopped, or the queue refused it)."""

    def is_published(self) -> bool: ...

    def wait_for_publish(self, timeout: float | None = None) -> None: ...


@dataclass
class Stats:
    """The client's counters (read by tests, benchmarks and the edge's stats telemetry)."""

    received: int = 0
    handled: int = 0
    errors: int = 0
    dropped: int = 0
    unmatched: int = 0
    connects: int = 0
    disconnects: int = 0
