"""The edge's link to the centre: the central client, the host's STATE, births and deaths.

Sparkplug's host STATE gates everything that goes up: only after the backend said it is online
(retained ``fe/v1/STATE/{host_id}``) does the edge publish its birth (retained ``edge.birth`` on
its ``state``) and drain the outbox (edge/forwarder.py), so nothing is sent into a broker nobody
reads. A death counts only for the host session it names, so a late will of an old backend
process never hides the newer one's birth. The edge's own death is its last will, and is said
explicitly on a clean stop. A fresh connection knows nothing of the host until its STATE
(re)arrives: after a broker restart the retained STATE is gone until the backend republishes it.

Threads: ``run`` connects (retrying until the broker accepts us) and then sends the edge's stats
telemetry every ``stats_every_s``; ``forward_loop`` publishes a birth that could not go out yet
and turns the forwarder. The central client's subscriptions besides the host STATE are handed in
(``subscriptions``: topic filter -> handler, the composition's business: edge/agent.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from backend.platform.mqtt import (
    Handler,
    Message,
    MqttClient,
    MqttError,
    Will,
    connect_with_retry,
)
from edge.forwarder import Forwarder
from edge.link import UplinkStatus
from edge.own_messages import OwnMessages
from edge.protocol import ProtocolError, decode_envelope, encode, host_state_topic
from edge.registry import DeviceRegistry
from edge.settings import EdgeSettings, EdgeStats
from edge.store import EdgeStore

log = logging.getLogger(__name__)


class CentreLink:
    def __init__(
        self,
        settings: EdgeSettings,
        *,
        status: UplinkStatus,
        forwarder: Forwarder,
        messages: OwnMessages,
        registry: DeviceRegistry,
        store: EdgeStore,
        stats: EdgeStats,
        subscriptions: Sequence[tuple[str, Handler]],
    ) -> None:
        self.settings = settings
        self.edge_id = settings.edge_id
        self.status = status
        self.forwarder = forwarder
        self.messages = messages
        self.registry = registry
        self.store = store
        self.stats = stats
        self.subscriptions = list(subscriptions)

    # ------------------------------------------------------------------ threads

    def run(self, stop: threading.Event) -> None:
        """Connect (until it works or ``stop``), then send the stats telemetry now and then."""
        client = connect_with_retry(
            self._make_client,
            stop,
            attempt_timeout=3.0,
            max_delay=self.settings.retry_max_delay,
            what=f"edge {self.edge_id}: central broker",
        )
        if client is None:
            return
        self.status.client = client
        next_stats = time.monotonic() + self.settings.stats_every_s
        while not stop.wait(0.5):
            if time.monotonic() >= next_stats:
                next_stats = time.monotonic() + self.settings.stats_every_s
                self.messages.emit("edge.stats", self.snapshot(), channel="telemetry")

    def forward_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            status = self.status
            if status.connected and status.host_online and not status.born:
                self.birth()  # a birth that could not be published yet
            self.forwarder.turn()

    def close(self) -> None:
        """Say our death (a clean disconnect sends no will) and disconnect."""
        client = self.status.client
        if client is not None:
            if client.connected:
                with contextlib.suppress(MqttError):
                    client.publish(
                        self.messages.topic("state"),
                        encode(self.messages.envelope("edge.death", self.messages.death_data())),
                        retain=True,
                        timeout=2,
                    )
            client.close()
            self.status.client = None
        self.status.reset()

    def snapshot(self) -> dict[str, Any]:
        """The ``edge.stats`` telemetry: the counters, the outbox, the host, the registry."""
        return {
            **{k: v for k, v in self.stats.counts.items() if ":" not in k},
            "outbox_pending": self.store.pending,
            "host_online": self.status.host_online,
            "devices": len(self.registry),
        }

    # ------------------------------------------------------------------ the central client

    def _make_client(self) -> MqttClient:
        will_env = self.messages.envelope("edge.death", self.messages.death_data())
        client = MqttClient(
            self.settings.central_url,
            f"{self.edge_id}-{uuid.uuid4().hex[:6]}",
            will=Will(self.messages.topic("state"), encode(will_env), qos=1, retain=True),
            on_connected=self._on_connected,
            reconnect_min_delay=0.2,
            reconnect_max_delay=self.settings.retry_max_delay,
            max_inflight=self.settings.window,
        )
        client.subscribe(host_state_topic(self.settings.host_id), self._on_host_state, qos=1)
        for topic_filter, handler in self.subscriptions:
            client.subscribe(topic_filter, handler, qos=1)
        # Set before connecting: the host STATE may arrive (and call for a birth) before
        # connect() returns to the uplink thread.
        self.status.client = client
        return client

    def _on_connected(self, _client: MqttClient) -> None:
        self.status.reset()
        self.stats.add("central_connects")

    def _on_host_state(self, message: Message) -> None:
        try:
            env = decode_envelope(message.payload, max_skew_s=None)
        except ProtocolError:
            return
        status = self.status
        online = bool(env.data.get("online"))
        session = env.data.get("session")
        was = status.host_online
        if online:
            status.host_session = session
            status.receipts = bool(env.data.get("receipts"))
            status.host_online = True
        elif status.host_session in (None, session):
            # Sparkplug's rule: a death counts only for the host session it belongs to.
            status.host_online = False
        if status.host_online and not was:
            log.info("edge %s: central host online", self.edge_id)
            self.birth()
        elif was and not status.host_online:
            log.warning("edge %s: central host offline; storing uplinks", self.edge_id)
            status.born = False

    def birth(self) -> None:
        client = self.status.client
        if client is None:
            return
        data = {
            "online": True,
            "session": self.messages.session,
            "branch_id": self.settings.branch_id,
            "devices": len(self.registry),
            "outbox_pending": self.store.pending,
            "registry_version": self.registry.version(0),
        }
        try:
            client.publish(
                self.messages.topic("state"),
                encode(self.messages.envelope("edge.birth", data)),
                retain=True,
                timeout=5,
            )
        except MqttError as exc:
            log.warning("edge %s: birth not published: %s", self.edge_id, exc)
            return
        self.status.born = True
        self.forwarder.rewind()
