"""The hub role: the backend's MQTT side of the device area (``finedge serve`` runs it in its
one process; ``finedge hub`` will run it alone).

Any number of hubs share the branches through leases in the database (backend/devices/
leases.py): each has a unique hub id and client id, ingests only the branches it holds a lease
on, and hands them over when it stops, dies or another hub joins (docs/hub.md). One client on
the central broker (a clean session: the edge's outbox keeps every uplink until a receipt, so
nothing needs to wait in the broker for a hub) that

- subscribes ``fe/v1/{branch}/#`` for each branch it holds (on acquiring, before publishing
  anything to the branch; unsubscribed before the lease is released);
- announces the host's STATE (Sparkplug): retained ``{"online": true}`` on
  ``fe/v1/STATE/{host_id}`` right after subscribing, and the matching offline as its last will,
  so that edges forward only while somebody ingests. Every hub of the host does so with its own
  session; a hub that sees another's offline (its will, or its clean stop) while it is itself
  online republishes its own online at once, so the edges forward while any hub lives;
- publishes each branch's registry (retained, to its edge) and each device's desired
  configuration (retained) whenever they change: at once after a change in this process
  (``poke``) and within a refresh for changes made elsewhere (another backend process,
  ``finedge devices`` provisioning the demo). Refreshes are incremental (``refresh``): one
  query of the branch change journal (backend/platform/changes.py) says which branches changed
  since the last one, and only those are read again; the whole pass runs after a (re)connect,
  and a paged repair pass goes over each branch every ``queue_sync_full_s``;
- publishes each branch's counter map (retained ``edge.counters`` on the edge's
  ``config/counters``: counter id -> skills and caller device, from the hall through
  ``HallForDevices.counter_map``, and the branch's timezone, ``.timezone``) at start and
  whenever it changes, found the same way, so the edge's offline queue calls by the counters'
  skills and numbers its tickets by the branch's local day;
- sends each edge what the centre did with the kiosk tickets it issued (``queue.sync`` on the
  edge's ``queue/sync``, from the hall through ``HallForDevices.edge_tickets``): the changed
  tickets at once after a committed queue change in this process (``queue_changed``, the
  ``DeviceLink`` port the hub implements) or within a
  refresh when made elsewhere, and the whole (recent) picture in pages when the hub connects,
  when the edge is (re)born (its ``edge.birth``) and every ``queue_sync_full_s``, so a lost or
  late message is repaired; the edge applies each entry by time, so repeats and any order
  are harmless;
- sends each edge a receipt after every ingest batch (the envelope ids the centre now holds),
  on ``fe/v1/{branch}/edge/{edge_id}/receipt``: the edge's outbox keeps an uplink until then;
  only for what it stored under a valid lease (the ingest's fence);
- on taking up a branch, asks its edge to resend from its oldest unreceipted uplink
  (``ingest.rewind``) and stores nothing of the branch (a gate closed before the branch is
  subscribed) until the edge's ``edge.rewound`` (asked again every ``REWIND_AGAIN_S`` while
  the branch's uplinks arrive unanswered, e.g. the edge was not connected at the first ask, up
  to ``REWIND_ASKS`` times: an edge without it, older than this contract, is then ingested as
  it comes), so per-device order survives a hand-over;
- is the transport of the command dispatcher.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend.devices.commands import CommandDispatcher, DispatcherLink
from backend.devices.leases import BranchLeases, LeaseSettings, default_hub_id
from backend.devices.secretbox import SecretBox
from backend.platform.clock import utcnow
from backend.platform.live import LiveEmitter
from backend.platform.mqtt import (
    Message,
    MqttClient,
    MqttError,
    MqttPublishError,
    MqttSubscribeError,
    Will,
    connect_with_retry,
)
from backend.roles.hub_publisher import BranchPublisher
from backend.roles.ingest import IngestService, IngestSettings
from edge.protocol import (
    DEFAULT_HOST_ID,
    ProtocolError,
    build_topic,
    decode_envelope,
    default_edge_id,
    encode,
    host_state_topic,
    make_envelope,
)

log = logging.getLogger(__name__)


def branch_filter(branch_id: str) -> str:
    """Everything of one branch (the uplinks; the ingest ignores what goes down)."""
    return f"fe/v1/{branch_id}/#"


INGEST_FILTER = "fe/v1/+/+/+/#"  # a hub without leases (``leases=False``): every branch
REWIND_AGAIN_S = 0.5  # a rewind unanswered this long while the branch's uplinks come: asked again
REWIND_ASKS = (
    10  # asks in all; then (an edge without the rewind) the uplinks are taken as they come
)


@dataclass
class HubSettings:
    host_id: str = DEFAULT_HOST_ID
    hub_id: str = ""  # unique per hub ("": host-pid-random); the client id derives from it
    client_id: str = ""
    persistent_session: bool = False
    refresh_s: float = 5.0  # the change journal is read this often (and at once when poked)
    branches: set[str] | None = None  # None: every branch (a static filter on the leases)
    recheck_s: float = 60.0  # the whole journal (one row per branch) read again this often
    change_grace_s: float = 30.0  # journal rows bumped this long before the last pass: again
    repair_page: int = 50  # branches wholly refreshed per pass by the repair pass
    leases: bool = True  # share the branches with the other hubs (False: take every branch)
    lease_ttl_s: float = 8.0
    lease_every_s: float = 2.0
    command_wait_s: float = 5.0
    command_ttl_s: float = 30.0
    reconnect_max_delay: float = 5.0
    queue_sync_full_s: float = 300.0  # the whole picture again at most this often (repair)
    ingest: IngestSettings = field(default_factory=IngestSettings)


class DeviceHub(DispatcherLink):
    """The hub role's client on the central broker, and its process's ``DeviceLink``."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        live: LiveEmitter,
        secret_key: str,
        mqtt_url: str,
        settings: HubSettings | None = None,
        *,
        on_committed: Callable[[list[str]], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self._clock = clock or utcnow
        self.mqtt_url = mqtt_url
        self.settings = settings or HubSettings()
        self.box = SecretBox(secret_key)
        self.hub_id = self.settings.hub_id or default_hub_id()
        self.leases: BranchLeases | None = None
        if self.settings.leases:
            self.leases = BranchLeases(
                session_factory,
                LeaseSettings(
                    hub_id=self.hub_id,
                    ttl_s=self.settings.lease_ttl_s,
                    every_s=self.settings.lease_every_s,
                    branches=self.settings.branches,
                ),
                on_acquired=self._on_acquired,
                on_releasing=self._on_releasing,
                on_lost=self._on_lost,
            )
        self.ingest = IngestService(
            session_factory,
            live,
            settings=self.settings.ingest,
            on_committed=on_committed,
            on_ack=self._on_ack,
            on_receipt=self._send_receipt,
            branches=self.settings.branches,
            ownership=self.leases,
        )
        self.commands = CommandDispatcher(
            session_factory,
            self.box,
            self,
            default_wait_s=self.settings.command_wait_s,
            ttl_s=self.settings.command_ttl_s,
        )
        self._client: MqttClient | None = None
        self._client_lock = threading.Lock()  # _client and the branches subscribed
        self._subscribed: set[str] = set()
        self._made_with: set[str] = set()  # the branches the client was made with
        # branch -> (rewind token, asked at, asks, uplinks held back since)
        self._gates: dict[str, tuple[str, float, int, bool]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._session = uuid.uuid4().hex
        self._cache_lock = threading.Lock()  # the rewind gates
        self.publisher = BranchPublisher(
            session_factory,
            self.box,
            self.settings,
            lambda *args, **kwargs: self.publish(*args, **kwargs),  # late bound
            self._wanted,
            self._serving,
            self._clock,
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def _state_payload(self, online: bool) -> bytes:
        data = {
            "online": online,
            "session": self._session,
            "host_id": self.settings.host_id,
            "receipts": True,  # edges keep each uplink until a receipt names it
        }
        return encode(make_envelope("host.state", data, 0))

    @property
    def client_id(self) -> str:
        return self.settings.client_id or f"finedge-hub-{self.hub_id}"

    def status(self) -> dict[str, Any]:
        """For the readiness probe: this hub, its branches, the lease loop."""
        out: dict[str, Any] = {"hub_id": self.hub_id, "mqtt_client_id": self.client_id}
        if self.leases is not None:
            out.update(
                branches_owned=len(self.leases.owned()),
                live_hubs=self.leases.live_hubs,
                fair_share=self.leases.share,
                lease_loop="alive" if self.leases.alive else "stalled",
            )
        return out

    @property
    def ready(self) -> bool:
        return self.connected and (self.leases is None or self.leases.alive)

    def _make_client(self) -> MqttClient:
        client = MqttClient(
            self.mqtt_url,
            self.client_id,
            clean_session=not self.settings.persistent_session,
            will=Will(host_state_topic(self.settings.host_id), self._state_payload(False)),
            on_connected=self._on_connected,
            reconnect_min_delay=0.2,
            reconnect_max_delay=self.settings.reconnect_max_delay,
        )
        client.subscribe(host_state_topic(self.settings.host_id), self._on_host_state, qos=1)
        with self._client_lock:
            if self.leases is None:
                client.subscribe(INGEST_FILTER, self._on_uplink, qos=1)
            for branch_id in sorted(self._subscribed):
                client.subscribe(branch_filter(branch_id), self._on_uplink, qos=1)
            self._made_with = set(self._subscribed)
        return client

    def start(self) -> DeviceHub:
        """Start the ingest writer and connect in the background (retrying until it works)."""
        self.ingest.start()
        self._stop.clear()
        if self.leases is not None:
            self.leases.start()  # a first share at once: subscribed when the client connects
        self._thread = threading.Thread(target=self._run, name="device-hub", daemon=True)
        self._thread.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.connected

    def stop(self, *, release: bool = True) -> None:
        """Stop; ``release``: hand the branches to the other hubs at once (else they take
        them when the leases expire, as after a crash)."""
        if self.leases is not None:
            self.leases.stop(release=release)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        client = self._client
        if client is not None:
            if client.connected:
                # A clean disconnect sends no will: say it ourselves.
                with contextlib.suppress(MqttError):
                    client.publish(
                        host_state_topic(self.settings.host_id),
                        self._state_payload(False),
                        retain=True,
                        timeout=2,
                    )
            client.close()
            self._client = None
        self.ingest.stop()

    def _run(self) -> None:
        client = connect_with_retry(
            self._make_client,
            self._stop,
            max_delay=self.settings.reconnect_max_delay,
            what="central broker (device ingest)",
        )
        if client is None:
            return
        with self._client_lock:
            self._client = client
            missing = self._subscribed - self._made_with
            taken_up = sorted(self._subscribed)
        for branch_id in sorted(missing):  # taken up while the first connection was made
            self._subscribe(client, branch_id)
        for branch_id in taken_up:  # taken up before we could ask their edges to rewind
            self._ask_rewind(client, branch_id)
        while not self._stop.is_set():
            if client.connected:
                try:
                    self.refresh()
                except Exception:
                    log.exception("device hub: registry/config refresh failed")
            timeout = self.settings.refresh_s
            if self._gates:
                self._ask_again()
                timeout = min(timeout, REWIND_AGAIN_S / 2)
            self._wake.wait(timeout)
            self._wake.clear()

    def _on_connected(self, client: MqttClient) -> None:
        # After SUBSCRIBE (sent first by the client), so edges start forwarding only into a
        # live subscription. The broker may have restarted: retained registries are gone.
        client.publish(
            host_state_topic(self.settings.host_id), self._state_payload(True), retain=True
        )
        self.resync()

    def poke(self) -> None:
        """Something changed in this process (and is in the change journal): refresh now."""
        self._wake.set()
        if self.leases is not None:
            self.leases.poke()  # maybe a new branch to share

    def resync(self) -> None:
        """Publish everything again (the whole pass), as after a reconnect."""
        self.publisher.resync()
        self._wake.set()

    def refresh(self) -> dict[str, int]:
        """Publish what changed (``BranchPublisher.refresh``); the messages sent by kind."""
        return self.publisher.refresh()

    def refresh_queue_sync(self, branch_ids: set[str]) -> int:
        return self.publisher.refresh_queue_sync(branch_ids)

    def _serving(self) -> set[str] | None:
        """The branches this hub serves now (its leases, within the static filter), or None
        for every branch."""
        wanted = self.settings.branches
        if self.leases is None:
            return None if wanted is None else set(wanted)
        owned = self.leases.owned()
        return owned if wanted is None else owned & set(wanted)

    def _wanted(self, branch_id: str) -> bool:
        if self.settings.branches is not None and branch_id not in self.settings.branches:
            return False
        return self.leases is None or self.leases.accepts(branch_id)

    # ------------------------------------------------------------------ leases (hand-overs)

    def _subscribe(self, client: MqttClient, branch_id: str) -> None:
        try:
            client.subscribe(branch_filter(branch_id), self._on_uplink, qos=1)
        except MqttSubscribeError as exc:  # the registration stays: sent again on reconnect
            log.warning("hub %s: subscribing %s: %s", self.hub_id, branch_id, exc)

    def _on_acquired(self, branch_id: str) -> None:
        """The lease thread took the branch: close its rewind gate, subscribe (waiting for the
        SUBACK when connected), ask its edge to rewind, then publish its registry, counters
        and queue picture afresh."""
        self._forget_branch(branch_id)
        self._close_gate(branch_id)  # before the subscription can deliver anything
        with self._client_lock:
            self._subscribed.add(branch_id)  # from here on a new client subscribes it too
            client = self._client
        if client is not None:
            self._subscribe(client, branch_id)
            self._ask_rewind(client, branch_id)
        self._wake.set()  # the next refresh reads it wholly (``_plan``: newly served)

    def _close_gate(self, branch_id: str) -> None:
        """Nothing of the branch is stored from now until its edge answers the gate's token
        (``edge.rewound``, asked by ``_ask_rewind``). Closed before the branch is subscribed:
        the broker delivers the branch's uplinks as soon as it has the subscription, before
        the SUBACK is back and the edge asked, and the edge's older uplinks (sent to the
        previous owner, or to nobody, and not receipted) would come only after the rewind, so
        a newer one stored in between would break the device's order."""
        with self._cache_lock:
            self._gates[branch_id] = (uuid.uuid4().hex, time.monotonic(), 0, False)

    def _ask_rewind(self, client: MqttClient, branch_id: str) -> None:
        """The branch's edge resends from its oldest unreceipted uplink; until it says so
        (``edge.rewound``), nothing of the branch is stored (see ``_held_back``; the gate is
        normally closed already, by ``_close_gate``)."""
        with self._cache_lock:
            gate = self._gates.get(branch_id)
            token = gate[0] if gate is not None else uuid.uuid4().hex
            asks = gate[2] + 1 if gate is not None else 1
            self._gates[branch_id] = (token, time.monotonic(), asks, False)
        try:
            edge_id = self.publisher.edge_ids.get(branch_id)
            if edge_id is None:
                with self.session_factory() as session:
                    edge_id = self.publisher.edge_id(session, branch_id)
            topic = build_topic(branch_id, "edge", edge_id, "receipt")
            env = make_envelope("ingest.rewind", {"token": token}, 0)
            client.publish_nowait(topic, encode(env), 1, False)
            log.info("hub %s: asked %s to rewind (%d)", self.hub_id, branch_id, asks)
        except Exception as exc:  # asked again when the branch's uplinks arrive
            log.warning("hub %s: rewind of %s not asked: %s", self.hub_id, branch_id, exc)

    def _held_back(self, message: Message) -> bool:
        """True for an edge's ``edge.rewound`` (never stored) and, until it came, for every
        message of a branch just taken up (no receipt: the edge sends it again, in order)."""
        answer = message.topic.endswith("/event") and b'"edge.rewound"' in message.payload
        if not self._gates and not answer:
            return False
        parts = message.topic.split("/", 3)
        branch_id = parts[2] if len(parts) > 2 else ""
        ask = False
        with self._cache_lock:
            gate = self._gates.get(branch_id)
            if gate is None:
                return answer
            if answer:
                if gate[0].encode() in message.payload:
                    del self._gates[branch_id]
                    log.info("hub %s: %s rewound; ingesting", self.hub_id, branch_id)
                return True
            if time.monotonic() - gate[1] >= REWIND_AGAIN_S:
                if gate[2] >= REWIND_ASKS:
                    del self._gates[branch_id]
                    log.warning("hub %s: %s never rewound; ingesting", self.hub_id, branch_id)
                    return False
                ask = True
            else:  # asked again by ``_ask_again`` when due
                self._gates[branch_id] = (*gate[:3], True)
        client = self._client
        if ask and client is not None:  # its uplinks arrive: the edge is there, ask again
            self._ask_rewind(client, branch_id)
        self.ingest.stats["before_rewind"] += 1
        return True

    def _ask_again(self) -> None:
        """From the refresh loop: the rewinds due again (uplinks held back since the last ask,
        which the edge may have missed, e.g. not yet connected)."""
        client = self._client
        now = time.monotonic()
        with self._cache_lock:
            due = [b for b, g in self._gates.items() if g[3] and now - g[1] >= REWIND_AGAIN_S]
        for branch_id in due:
            if client is not None and client.connected:
                self._ask_rewind(client, branch_id)

    def _on_releasing(self, branch_id: str) -> None:
        """Before the lease goes: no new messages of the branch, what is queued written."""
        self._unsubscribe(branch_id)
        self.ingest.drain(5.0)

    def _on_lost(self, branch_id: str) -> None:
        self._unsubscribe(branch_id)

    def _unsubscribe(self, branch_id: str) -> None:
        with self._client_lock:
            self._subscribed.discard(branch_id)
            client = self._client
        if client is not None:
            client.unsubscribe(branch_filter(branch_id))
        self._forget_branch(branch_id)

    def _forget_branch(self, branch_id: str) -> None:
        with self._cache_lock:
            self._gates.pop(branch_id, None)
        self.publisher.forget(branch_id)

    def _on_host_state(self, message: Message) -> None:
        """Another hub of this host said offline (its will or its clean stop) while this one
        lives: say online again, so the edges keep forwarding (to the hubs that remain)."""
        try:
            env = decode_envelope(message.payload, max_skew_s=None)
        except ProtocolError:
            return
        if env.data.get("online") or env.data.get("session") == self._session:
            return
        client = self._client
        if self._stop.is_set() or client is None or not client.connected:
            return
        log.info(
            "hub %s: another hub of %s went offline; online again",
            self.hub_id,
            self.settings.host_id,
        )
        with contextlib.suppress(MqttError):
            client.publish_nowait(
                host_state_topic(self.settings.host_id), self._state_payload(True), 1, True
            )

    # ------------------------------------------------------------------ DeviceLink (the port)
    # ``send`` is DispatcherLink's (through this hub's dispatcher); the hub is told of changes.

    def registry_changed(self) -> None:
        self.poke()

    def queue_changed(self, branch_id: str) -> None:
        """A committed queue change in this process: send the edge its changes now."""
        if self._wanted(branch_id):
            self.publisher.queue_changed(branch_id)
            self._wake.set()

    def _on_uplink(self, message: Message) -> None:
        """Everything goes to the ingest; an edge's birth also asks for the whole queue.sync
        picture (the edge may have missed changes while it was away)."""
        if self._held_back(message):
            return
        inbound = self.ingest.handle(message)
        if (
            inbound is not None
            and inbound.topic.device_type == "edge"
            and inbound.topic.channel == "state"
            and inbound.env.type == "edge.birth"
            and self._wanted(inbound.topic.branch_id)
        ):
            self.publisher.edge_reborn(inbound.topic.branch_id)
            self._wake.set()

    # ------------------------------------------------------------------ transport

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        *,
        timeout: float = 10.0,
    ) -> None:
        client = self._client
        if client is None:
            raise MqttPublishError("not connected to the central broker")
        client.publish(topic, payload, qos=qos, retain=retain, timeout=timeout)

    def _on_ack(self, command_id: str, status: str) -> None:
        self.commands.on_ack(command_id, status)

    def _send_receipt(self, branch_id: str, ids: list[str]) -> None:
        client = self._client
        if client is None or not client.connected:
            return  # the edge sends again after its receipt timeout
        edge_id = self.publisher.edge_ids.get(branch_id) or default_edge_id(branch_id)
        topic = build_topic(branch_id, "edge", edge_id, "receipt")
        for start in range(0, len(ids), 1000):
            env = make_envelope("ingest.receipt", {"ids": ids[start : start + 1000]}, 0)
            client.publish_nowait(topic, encode(env), 1, False)
