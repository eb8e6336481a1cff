"""What the centre sends down to the edge, taken from the central broker only.

- The registry (``edge.registry`` on the edge's ``config/desired``, retained): kept in the
  store and handed to the branch broker's logins and ACL; the devices heard before it admitted
  them are asked for a rebirth; ``edge.registry_applied`` goes back up.
- The hall's counter map (``edge.counters`` on ``config/counters``, retained): the skills the
  local queue calls by and the hall's timezone it numbers by.
- ``queue.sync`` on ``queue/sync``: what the centre did with the edge's kiosk tickets, applied
  to the local queue by time. Only the central client takes it: the central broker's ACL lets
  only the backend (and this edge) publish on the edge's topics, and devices never log in
  there; the same topic on the branch broker (which devices reach) is ignored like every edge
  topic (edge/uplink.py). Applying emits no queue event (the centre already knows: no echo).
- Devices' commands and desired configurations: relayed unchanged to the device on the branch
  broker (its ack comes back up as an uplink); a command to a kind marked ``relays_calls`` may
  be the centre's answer to a call-next press the edge is waiting on (edge/hall.py).
"""

from __future__ import annotations

import logging
from typing import Any

from backend.platform.mqtt import Message, MqttClient, MqttError
from edge.branch_broker import BranchLogins
from edge.hall import OfflineHall
from edge.local_commands import LocalCommands
from edge.localqueue import CounterMap, LocalQueue, QueueSync
from edge.own_messages import OwnMessages
from edge.protocol import KINDS, ProtocolError, decode_envelope, loads_strict, parse_topic
from edge.registry import DeviceRegistry
from edge.settings import EdgeSettings, EdgeStats
from edge.store import RegistryEntry

log = logging.getLogger(__name__)

RELAYED_CHANNELS = ("cmd", "config/desired")


class Downlinks:
    """``branch``: the edge's client on the branch broker (None: nothing is relayed);
    ``broker``: what makes the branch broker's logins follow the registry (the embedded
    broker, or a Mosquitto's dynsec accounts), if anything."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        registry: DeviceRegistry,
        queue: LocalQueue,
        hall: OfflineHall,
        messages: OwnMessages,
        commands: LocalCommands,
        branch: MqttClient | None,
        broker: BranchLogins | None,
        stats: EdgeStats,
    ) -> None:
        self.settings = settings
        self.edge_id = settings.edge_id
        self.registry = registry
        self.queue = queue
        self.hall = hall
        self.messages = messages
        self.commands = commands
        self.branch = branch
        self.broker = broker
        self.stats = stats

    # ------------------------------------------------------------------ the registry

    def on_registry(self, message: Message) -> None:
        try:
            env = decode_envelope(message.payload, max_skew_s=None, max_bytes=16 * 1024 * 1024)
            version = env.data.get("version")
            devices = env.data.get("devices")
            if env.type != "edge.registry" or not isinstance(version, int):
                raise ProtocolError("bad_registry", "edge.registry needs version and devices")
            if not isinstance(devices, list):
                raise ProtocolError("bad_registry", "devices must be a list")
            entries = [
                RegistryEntry(
                    device_id=str(d["device_id"]),
                    device_type=str(d["device_type"]),
                    status=str(d["status"]),
                    password_hash=d.get("password_hash"),
                    edge_key=d.get("edge_key"),
                    password_sealed=d.get("password_sealed"),
                )
                for d in devices
            ]
        except (ProtocolError, KeyError, TypeError) as exc:
            log.warning("edge %s: registry message refused: %s", self.edge_id, exc)
            return
        if version == self.registry.version(-1):
            return  # the same registry again (a retained copy after a reconnect)
        self.apply_registry(entries, version)

    def apply_registry(self, entries: list[RegistryEntry], version: int) -> None:
        known = self.registry.replace(entries, version)
        if self.broker is not None:
            self.broker.set_devices(entries)
        self.stats.add("registry_syncs")
        self.messages.emit(
            "edge.registry_applied",
            {"version": version, "devices": len(entries)},
            channel="config/reported",
        )
        log.info("edge %s: registry v%d with %d devices", self.edge_id, version, len(entries))
        for device_id in known:  # what they said before (their birth) was dropped
            self.commands.rebirth(device_id, "registered")

    # ------------------------------------------------------------------ the local queue's

    def on_counters(self, message: Message) -> None:
        """The hall's counter map (retained ``edge.counters``): the skills the local queue
        calls by and the hall's timezone it numbers by; kept in the edge store, so they hold
        across restarts while offline."""
        try:
            counter_map = CounterMap.from_dict(_data_of(message, "edge.counters"))
        except (ProtocolError, ValueError) as exc:
            log.warning("edge %s: counter map refused: %s", self.edge_id, exc)
            return
        if self.queue.set_counter_map(counter_map):
            self.stats.add("counter_map_syncs")
            log.info(
                "edge %s: counter map v%d with %d counters, local day in %s",
                self.edge_id,
                counter_map.version,
                len(counter_map.counters),
                self.queue.timezone,
            )

    def on_queue_sync(self, message: Message) -> None:
        """What the centre did with the edge's kiosk tickets (``queue.sync``), applied to the
        local queue by time (LocalQueue.apply_sync)."""
        try:
            sync = QueueSync.from_dict(_data_of(message, "queue.sync"))
        except (ProtocolError, ValueError) as exc:
            self.stats.add("queue_sync_refused")
            log.warning("edge %s: queue sync refused: %s", self.edge_id, exc)
            return
        try:
            result = self.queue.apply_sync(sync)
        except Exception:  # e.g. the store closing under us; the next full picture repairs it
            self.stats.add("errors")
            log.exception("edge %s: queue sync not applied", self.edge_id)
            return
        self.stats.add("queue_syncs")
        self.stats.add("queue_sync_applied", len(result.applied))
        self.stats.add("queue_sync_unknown", len(result.unknown))
        self.stats.add("queue_sync_refused_entries", result.refused)

    # ------------------------------------------------------------------ relays to devices

    def relay(self, message: Message) -> None:
        """Commands and desired configs from the centre, relayed unchanged to the device."""
        try:
            parsed = parse_topic(message.topic)
        except ProtocolError:
            return
        spec = KINDS.get(parsed.device_type)
        if spec is None or spec.edge_node:
            return  # our own config/desired is the registry; edge commands are not relayed
        entry = self.registry.get(parsed.device_id)
        if entry is None or not entry.admitted or entry.device_type != parsed.device_type:
            self.stats.add("downlink_unroutable")
            return
        if parsed.channel not in RELAYED_CHANNELS:
            return
        try:
            command = loads_strict(message.payload, max_bytes=self.settings.max_bytes)
        except ProtocolError:
            self.stats.add("downlink_bad")
            return
        branch = self.branch
        if branch is None:
            return
        if spec.relays_calls and parsed.channel == "cmd":
            self.hall.call_answered(parsed.device_id, command)
        try:
            branch.publish(
                message.topic, message.payload, retain=parsed.channel == "config/desired", timeout=5
            )
            self.stats.add("downlinks")
        except MqttError as exc:
            self.stats.add("downlink_failed")
            log.warning("edge %s: relay to %s failed: %s", self.edge_id, message.topic, exc)


def _data_of(message: Message, type_: str) -> dict[str, Any]:
    """The data of a ``type_`` envelope (up to 1 MiB); ProtocolError or ValueError else."""
    env = decode_envelope(message.payload, max_skew_s=None, max_bytes=1024 * 1024)
    if env.type != type_:
        raise ValueError(f"unexpected type {env.type}")
    return env.data
