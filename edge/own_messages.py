"""The edge's own messages: its topics, its sequence numbers and session, and ``emit``.

The edge speaks on ``fe/v1/{branch}/edge/{edge_id}/...`` like a device: its birth and death
(edge/centre.py), its events (``edge.bad_payload``, ``queue.*``, ...) and stats telemetry, and
the commands it signs itself (edge/local_commands.py) all take their ``seq`` from here. The
sequence number survives a restart: every hundredth number the store keeps the next hundred
as used, so a crash never makes the edge reuse one. Everything emitted goes through the outbox
like every uplink.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from edge.outbox import Outbox
from edge.protocol import EDGE_DEVICE_TYPE, Envelope, build_topic, encode, make_envelope
from edge.settings import EdgeSettings
from edge.store import EdgeStore

SEQ_KEY = "edge_seq"


class OwnMessages:
    def __init__(
        self,
        settings: EdgeSettings,
        store: EdgeStore,
        outbox: Outbox,
        clock: Callable[[], datetime],
    ) -> None:
        self.branch_id = settings.branch_id
        self.edge_id = settings.edge_id
        self.store = store
        self.outbox = outbox
        self.clock = clock
        self.session = uuid.uuid4().hex
        self._seq_lock = threading.Lock()
        self._seq = int(store.kv_get(SEQ_KEY, "0") or 0)

    def topic(self, channel: str) -> str:
        return own_topic(self.branch_id, self.edge_id, channel)

    def next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            if self._seq % 100 == 0:
                self.store.kv_set(SEQ_KEY, str(self._seq + 100))  # never reuse after a crash
            return self._seq

    def envelope(self, type_: str, data: dict[str, Any]) -> Envelope:
        return make_envelope(type_, data, self.next_seq(), now=self.clock())

    def death_data(self) -> dict[str, Any]:
        return {"online": False, "session": self.session}

    def emit(self, type_: str, data: dict[str, Any], channel: str = "event") -> None:
        """An event (or telemetry, ...) of the edge itself: through the outbox."""
        env = self.envelope(type_, data)
        self.outbox.put(self.topic(channel), encode(env), channel, env.id)


def own_topic(branch_id: str, edge_id: str, channel: str) -> str:
    return build_topic(branch_id, EDGE_DEVICE_TYPE, edge_id, channel)
