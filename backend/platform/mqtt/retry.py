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
import time
from collections.abc import Callable
from typing import TypeVar

from backend.platform.mqtt.client import MqttClient
from backend.platform.mqtt.messages import MqttConnectError

log = logging.getLogger(__name__)

C = TypeVar("C", bound=MqttClient)


REMIND_EVERY_S = 300.0  # a broker still unreachable is mentioned again this often


def connect_with_retry(
    factory: Callable[[], C],
    stop: threading.Event,
    *,
    attempt_timeout: float = 5.0,
    min_delay: float = 0.2,
    max_delay: float = 5.0,
    what: str = "broker",
    quiet: bool = False,
) -> C | None:
    """Connect a fresh client from ``factory`` until one succeeds; None once ``stop`` is set.

    Quiet while it waits: one line at the first failure ("waiting for it"), a reminder every
    ``REMIND_EVERY_S``, one line once connected after failures. ``quiet``: those lines at
    DEBUG (a caller that reports for many clients at once: the device fleet)."""
    level = logging.DEBUG if quiet else logging.WARNING
    delay = min_delay
    failures = 0
    started = time.monotonic()
    reminded = started
    while not stop.is_set():
        client = factory()
        try:
            client.connect(timeout=attempt_timeout)
        except MqttConnectError as exc:
            failures += 1
            now = time.monotonic()
            if failures == 1:
                log.log(level, "%s not reachable yet (%s); waiting for it", what, exc)
            elif now - reminded >= REMIND_EVERY_S:
                reminded = now
                log.log(level, "%s still not reachable after %.0f s (%s)", what, now - started, exc)
            else:
                log.debug("%s: attempt %d failed: %s", what, failures, exc)
        else:
            if failures:
                log.log(
                    logging.DEBUG if quiet else logging.INFO,
                    "%s reached after %.1f s",
                    what,
                    time.monotonic() - started,
                )
            return client
        stop.wait(random.uniform(delay / 2, delay))
        delay = min(max_delay, delay * 2)
    return None
