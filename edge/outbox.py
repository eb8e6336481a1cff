"""The way into the edge's durable outbox, for the devices' uplinks and the edge's own messages.

Every accepted uplink and every message of the edge itself goes into the SQLite outbox
(edge/store.py) and leaves it only towards the centre (edge/forwarder.py). Here: the outbox's
bound (``outbox_max_rows``: the oldest telemetry goes first, and telemetry is refused when
nothing can go), the ``historical`` mark of what is stored while the uplink is not live, and
the wake-up of the forwarder, through ``changed`` (a condition the forwarder also guards its
own bookkeeping with).
"""

from __future__ import annotations

import threading

from edge.link import UplinkStatus
from edge.settings import EdgeSettings, EdgeStats
from edge.store import EdgeStore


class Outbox:
    def __init__(
        self, store: EdgeStore, settings: EdgeSettings, stats: EdgeStats, status: UplinkStatus
    ) -> None:
        self.store = store
        self.settings = settings
        self.stats = stats
        self.status = status
        self.changed = threading.Condition()

    @property
    def pending(self) -> int:
        return self.store.pending

    def put(self, topic: str, payload: bytes, channel: str, envelope_id: str) -> bool:
        """Store one message; whether the uplink was live (the row goes up as a live message).
        False too when the outbox is full and the message was refused."""
        store = self.store
        if store.pending >= self.settings.outbox_max_rows:
            dropped = store.drop_oldest_telemetry(max(1, self.settings.outbox_max_rows // 100))
            self.stats.add("outbox_dropped", dropped)
            if not dropped and channel == "telemetry":
                self.stats.add("outbox_refused")
                return False
        live = self.status.live
        store.append(topic, payload, channel, historical=not live, envelope_id=envelope_id)
        self.wake()
        return live

    def wake(self) -> None:
        with self.changed:
            self.changed.notify_all()
