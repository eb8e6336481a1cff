"""The edge agent of one branch (``finedge edge --branch BR001``), composed of its parts.

Between the branch's devices and the centre it

- hosts the branch broker (edge/branch_broker.py: device logins checked against the registry
  synced from the centre, per-device topic ACL) or joins the one at BRANCH_MQTT_URL, whose
  accounts it keeps equal to the registry through Mosquitto's dynamic security plugin when
  given its admin login (edge/branch_accounts.py);
- checks every uplink at its gate (edge/uplink.py: topic, registered device of that kind,
  envelope, clock, duplicates, sequence gaps, rate limits; a bad one becomes an
  ``edge.bad_payload`` event) and puts what passes in a durable SQLite outbox (edge/outbox.py,
  edge/store.py);
- forwards the outbox, in order, to the central broker on the same topics once the centre is
  there (edge/forwarder.py), gated on the central host's STATE and the edge's birth
  (edge/centre.py); what waited is marked ``historical``;
- relays signed commands and desired configurations from the centre to the devices, and takes
  the registry, the hall's counter map and ``queue.sync`` from the centre (edge/downlinks.py);
- keeps the hall working while the uplink is down: kiosk tickets from the local queue
  (edge/localqueue), a window's "call next" left to the centre while the uplink is live and
  called locally otherwise, calls shown on the hall screens (edge/hall.py), with commands the
  edge signs itself (edge/local_commands.py);
- keeps its own state: birth, death as last will, ``edge.stats`` telemetry (edge/own_messages.py).

``assemble`` builds those parts from explicit inputs (a store, a queue, a registry, the branch
broker and client); ``EdgeAgent`` owns their lifecycle: the store, the brokers and clients, and
three threads (``uplink``: the central connection and stats; ``forward``: the outbox; ``calls``:
the call-next presses left to the centre).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backend.platform.mqtt import MqttClient, parse_mqtt_url
from edge.branch_accounts import DynsecBranchAccounts, service_login
from edge.branch_broker import BranchBroker, BranchLogins
from edge.centre import CentreLink
from edge.downlinks import Downlinks
from edge.forwarder import Forwarder
from edge.hall import OfflineHall
from edge.link import UplinkStatus
from edge.local_commands import LocalCommands
from edge.localqueue import LocalQueue
from edge.outbox import Outbox
from edge.own_messages import OwnMessages, own_topic
from edge.registry import DeviceRegistry
from edge.sealing import seal_key
from edge.settings import EdgeSettings, EdgeStats
from edge.store import EdgeStore, RegistryEntry
from edge.uplink import UplinkGate

log = logging.getLogger(__name__)

__all__ = ["EdgeAgent", "EdgeParts", "assemble"]


@dataclass
class EdgeParts:
    """The objects one running edge is made of (see the module docstring)."""

    store: EdgeStore
    queue: LocalQueue
    registry: DeviceRegistry
    status: UplinkStatus
    outbox: Outbox
    messages: OwnMessages
    commands: LocalCommands
    hall: OfflineHall
    gate: UplinkGate
    downlinks: Downlinks
    forwarder: Forwarder
    centre: CentreLink


def assemble(
    settings: EdgeSettings,
    *,
    store: EdgeStore,
    queue: LocalQueue,
    registry: DeviceRegistry,
    branch: MqttClient | None,
    broker: BranchLogins | None,
    stats: EdgeStats,
    clock: Callable[[], datetime],
) -> EdgeParts:
    """The edge's parts over ``store`` and ``queue``; ``branch`` is the edge's client on the
    branch broker (None: no commands reach the devices), ``broker`` what makes the branch
    broker's logins follow the registry (the embedded broker, a Mosquitto's dynsec accounts;
    None: a broker whose accounts are someone else's). Nothing is started."""
    status = UplinkStatus()
    outbox = Outbox(store, settings, stats, status)
    messages = OwnMessages(settings, store, outbox, clock)
    commands = LocalCommands(settings, registry, branch, messages.next_seq, clock, stats)
    hall = OfflineHall(
        settings,
        queue=queue,
        registry=registry,
        commands=commands,
        messages=messages,
        status=status,
        store=store,
        clock=clock,
        stats=stats,
    )
    gate = UplinkGate(
        settings,
        registry=registry,
        outbox=outbox,
        messages=messages,
        commands=commands,
        hall=hall,
        clock=clock,
        stats=stats,
    )
    downlinks = Downlinks(
        settings,
        registry=registry,
        queue=queue,
        hall=hall,
        messages=messages,
        commands=commands,
        branch=branch,
        broker=broker,
        stats=stats,
    )
    forwarder = Forwarder(settings, outbox, status, stats)
    branch_id = settings.branch_id
    centre = CentreLink(
        settings,
        status=status,
        forwarder=forwarder,
        messages=messages,
        registry=registry,
        store=store,
        stats=stats,
        subscriptions=[
            (messages.topic("config/desired"), downlinks.on_registry),
            (messages.topic("config/counters"), downlinks.on_counters),
            (messages.topic("queue/sync"), downlinks.on_queue_sync),
            (messages.topic("receipt"), forwarder.on_receipt),
            (f"fe/v1/{branch_id}/+/+/cmd", downlinks.relay),
            (f"fe/v1/{branch_id}/+/+/config/desired", downlinks.relay),
        ],
    )
    return EdgeParts(
        store=store,
        queue=queue,
        registry=registry,
        status=status,
        outbox=outbox,
        messages=messages,
        commands=commands,
        hall=hall,
        gate=gate,
        downlinks=downlinks,
        forwarder=forwarder,
        centre=centre,
    )


class EdgeAgent:
    def __init__(self, settings: EdgeSettings, *, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self.branch_id = settings.branch_id
        self.edge_id = settings.edge_id
        self.stats = EdgeStats()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._parts: EdgeParts | None = None
        self._broker: BranchBroker | None = None
        self._accounts: DynsecBranchAccounts | None = None
        self._branch: MqttClient | None = None
        self._threads: list[threading.Thread] = []
        self._edge_password = secrets.token_urlsafe(24)
        self.branch_url: str | None = None

    # ------------------------------------------------------------------ what it holds

    def own_topic(self, channel: str) -> str:
        return own_topic(self.branch_id, self.edge_id, channel)

    @property
    def parts(self) -> EdgeParts:
        assert self._parts is not None, "edge not started"
        return self._parts

    @property
    def store(self) -> EdgeStore:
        return self.parts.store

    @property
    def queue(self) -> LocalQueue:
        return self.parts.queue

    @property
    def registry(self) -> dict[str, RegistryEntry]:
        return self._parts.registry.as_dict() if self._parts is not None else {}

    @property
    def broker(self) -> BranchBroker | None:
        return self._broker

    @property
    def accounts(self) -> DynsecBranchAccounts | None:
        """The branch Mosquitto's dynsec accounts this edge keeps, if it keeps them."""
        return self._accounts

    @property
    def pending(self) -> int:
        return self._parts.store.pending if self._parts is not None else 0

    @property
    def uplink_live(self) -> bool:
        return self._parts is not None and self._parts.status.live

    @property
    def central_connected(self) -> bool:
        return self._parts is not None and self._parts.status.connected

    @property
    def host_online(self) -> bool:
        return self._parts is not None and self._parts.status.host_online

    def now(self) -> datetime:
        """The edge's clock."""
        return self._clock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EdgeAgent:
        s = self.settings
        self._stop.clear()
        store = EdgeStore(s.data_dir / f"edge-{self.branch_id}.db", synchronous=s.synchronous)
        store.mark_historical()  # whatever a previous run left is a replay now
        try:
            registry = DeviceRegistry(store)
            if s.branch_url is None:
                # Devices are admitted only once the edge listens (below): a device that
                # reconnects at once after an edge restart flushes what it buffered, and the
                # broker drops what no subscriber hears yet (seen: uplinks lost in a CI run).
                self._broker = BranchBroker(self.branch_id, s.host, s.mqtt_port)
                self._broker.add_user(self.edge_id, self._edge_password)
                self._broker.start()
                self.branch_url = self._broker.url_for(self.edge_id, self._edge_password)
            else:
                self.branch_url = s.branch_url
                if s.branch_admin_url is not None:
                    self._accounts = self._branch_accounts().start(registry.entries())
            # On an external branch broker a persistent session makes the broker queue the
            # devices' uplinks while the edge restarts; the embedded one restarts with us.
            external = s.branch_url is not None
            self._branch = MqttClient(
                self.branch_url,
                f"{self.edge_id}-branch" + ("" if external else f"-{uuid.uuid4().hex[:6]}"),
                clean_session=not external,
                reconnect_min_delay=0.2,
                reconnect_max_delay=s.retry_max_delay,
            )
            self._parts = parts = assemble(
                s,
                store=store,
                queue=LocalQueue(store, timezone=s.timezone),
                registry=registry,
                branch=self._branch,
                broker=self._broker or self._accounts,
                stats=self.stats,
                clock=self._clock,
            )
            self._branch.subscribe(f"fe/v1/{self.branch_id}/#", parts.gate.on_message, qos=1)
            self._branch.connect(timeout=10)
            if self._broker is not None:
                if not self._branch.wait_subscribed(10):
                    raise RuntimeError(f"{self.edge_id}: no SUBACK from the branch broker")
                self._broker.set_devices(registry.entries())
        except BaseException:
            if self._parts is None:
                store.close()
            self.stop()
            raise
        for target, name in (
            (parts.centre.run, "uplink"),
            (parts.centre.forward_loop, "forward"),
            (parts.hall.run, "calls"),
        ):
            thread = threading.Thread(
                target=target, args=(self._stop,), name=f"{self.edge_id}-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        log.info("edge %s of %s started (outbox %d)", self.edge_id, self.branch_id, self.pending)
        return self

    def stop(self) -> None:
        self._stop.set()
        parts = self._parts
        if parts is not None:
            parts.outbox.wake()
            parts.hall.wake()
        for thread in self._threads:
            thread.join(10)
        self._threads = []
        if parts is not None:
            parts.centre.close()
        if self._branch is not None:
            self._branch.close()
            self._branch = None
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
        if self._accounts is not None:
            self._accounts.stop()
            self._accounts = None
        if parts is not None:
            parts.store.close()
            self._parts = None

    def _branch_accounts(self) -> DynsecBranchAccounts:
        """The dynsec accounts of the external branch broker: the edge's own login (from
        BRANCH_MQTT_URL) and the registry's devices, their passwords opened with the key the
        centre seals them with for this edge (its central login password)."""
        s = self.settings
        assert s.branch_url is not None and s.branch_admin_url is not None
        _host, _port, login, password = parse_mqtt_url(s.central_url)
        secret = s.seal_secret or password
        key = seal_key(secret, login or self.edge_id) if secret else None
        if key is None:
            log.warning("edge %s: no central password, device passwords stay sealed", self.edge_id)
        return DynsecBranchAccounts(
            self.branch_id,
            s.branch_admin_url,
            seal_key=key,
            service=[service_login(s.branch_url)],
            client_id=f"{self.edge_id}-dynsec",
            retry_max_delay=s.retry_max_delay,
        )

    def __enter__(self) -> EdgeAgent:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # ------------------------------------------------------------------ what it does

    def emit(self, type_: str, data: dict[str, Any], channel: str = "event") -> None:
        """An event of the edge itself: through the outbox like every uplink."""
        self.parts.messages.emit(type_, data, channel)

    def apply_registry(self, entries: list[RegistryEntry], version: int) -> None:
        """Take a registry as if the centre had sent it (edge/downlinks.py)."""
        self.parts.downlinks.apply_registry(entries, version)

    def send_local_command(self, device_id: str, type_: str, data: dict[str, Any]) -> str | None:
        """Sign with the device's edge key and publish on its cmd topic; the command id."""
        return self.parts.commands.send(device_id, type_, data)

    def call_outcome(self, caller_id: str, request_id: str) -> str | None:
        """How a call-next press left to the centre was settled (edge/hall.py)."""
        return self.parts.hall.outcome(caller_id, request_id)

    def stats_snapshot(self) -> dict[str, Any]:
        if self._parts is None:
            return {k: v for k, v in self.stats.counts.items() if ":" not in k}
        return self._parts.centre.snapshot()
