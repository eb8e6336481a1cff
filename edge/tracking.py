"""Per-device bookkeeping of the edge: sequence numbers, rate limits, throttles (duplicate ids
are the wire's ``edge.protocol.RecentIds``, shared with the centre's ingest).

Sequence numbers follow Sparkplug's rule: each device's ``seq`` grows by one per message; a
birth (``device.birth``) restarts the tracking; a jump forward is a *gap* (messages lost between
the device and the edge), answered with a rebirth request so the centre gets the full state
again; a step back without a birth means the device restarted its counter (accepted, counted).
Deaths are exempt: a last will is written at connect time and carries that moment's seq.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SeqVerdict:
    kind: str  # "ok", "first", "birth", "gap", "reset", "death"
    expected: int | None = None
    got: int | None = None
    missing: int = 0


class SeqTracker:
    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def observe(self, device_key: str, seq: int, type_: str) -> SeqVerdict:
        with self._lock:
            last = self._last.get(device_key)
            if type_ == "device.death":
                return SeqVerdict("death")
            self._last[device_key] = seq
            if type_ == "device.birth":
                return SeqVerdict("birth", got=seq)
            if last is None:
                return SeqVerdict("first", got=seq)
            if seq == last + 1:
                return SeqVerdict("ok")
            if seq > last + 1:
                return SeqVerdict("gap", expected=last + 1, got=seq, missing=seq - last - 1)
            return SeqVerdict("reset", expected=last + 1, got=seq)

    def last(self, device_key: str) -> int | None:
        return self._last.get(device_key)


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``take()`` is False when empty."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class RateLimiter:
    """One bucket per device."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, device_key: str) -> bool:
        with self._lock:
            bucket = self._buckets.get(device_key)
            if bucket is None:
                bucket = self._buckets[device_key] = TokenBucket(self.rate, self.burst, self._clock)
            return bucket.take()


class Throttle:
    """At most one report per key per ``interval_s``; counts what it held back meanwhile."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[object, float] = {}
        self._held: dict[object, int] = {}
        self._lock = threading.Lock()

    def ready(self, key: object) -> tuple[bool, int]:
        """(report now?, how many were held back since the last report)."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return False, 0
            self._last[key] = now
            return True, self._held.pop(key, 0)
