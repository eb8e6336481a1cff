"""Keep trying to connect until a broker accepts us, or until told to stop.

``MqttClient.connect`` gives up on its first attempt after a timeout or a refusal, which is
right for a caller that must know at once; a long-running process (the edge's link to the
centre, the hub, a device that the edge has not yet admitted) instead wants to wait for the
broker or for its credentials, without hammering it: ``connect_with_retry`` connects fresh
clients with a growing, jittered delay between attempts.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TypeVar

from backend.platform.mqtt.client import MqttClient
from backend.platform.mqtt.messages import MqttConnectError

log = logging.getLogger(__name__)

C = TypeVar("C", bound=MqttClient)


def connect_with_retry(
    factory: Callable[[], C],
    stop: threading.Event,
    *,
    attempt_timeout: float = 5.0,
    min_delay: float = 0.2,
    max_delay: float = 5.0,
    what: str = "broker",
) -> C | None:
    """Connect a fresh client from ``factory`` until one succeeds; None once ``stop`` is set."""
    delay = min_delay
    failures = 0
    while not stop.is_set():
        client = factory()
        try:
            client.connect(timeout=attempt_timeout)
            return client
        except MqttConnectError as exc:
            failures += 1
            if failures in (1, 10) or failures % 100 == 0:
                log.warning("%s not reachable yet (%s); retrying", what, exc)
        stop.wait(random.uniform(delay / 2, delay))
        delay = min(max_delay, delay * 2)
    return None
