"""De-duplication by envelope id: delivery is at least once, so every receiver keeps the ids it
has seen recently and drops what comes again (the branch edge for each device's uplinks, the
centre's ingest for what it has stored).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable


class RecentIds:
    """A bounded set of recently seen envelope ids, least recently used out first.

    ``seen(id)`` records an id and says whether it was there already (one step, for a receiver
    that acts at once); ``in`` only asks, and ``add_all`` records a batch later (for one that
    acts once the batch is stored). Thread-safe.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, envelope_id: str) -> bool:
        with self._lock:
            if envelope_id in self._ids:
                self._ids.move_to_end(envelope_id)
                return True
            self._ids[envelope_id] = None
            self._trim()
            return False

    def __contains__(self, envelope_id: object) -> bool:
        with self._lock:
            return envelope_id in self._ids

    def add_all(self, envelope_ids: Iterable[str]) -> None:
        with self._lock:
            for envelope_id in envelope_ids:
                self._ids[envelope_id] = None
                self._ids.move_to_end(envelope_id)
            self._trim()

    def forget(self, envelope_id: str) -> None:
        with self._lock:
            self._ids.pop(envelope_id, None)

    def __len__(self) -> int:
        return len(self._ids)

    def _trim(self) -> None:
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
