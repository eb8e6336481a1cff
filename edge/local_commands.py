"""Commands the edge sends to a device on its own: signed with the device's edge key.

The centre's commands are signed with the device's secret, which the edge never sees; for the
few commands the edge sends itself (a rebirth request, a printed ticket, a called number:
``edge.credentials.EDGE_COMMAND_TYPES``) it signs with the key the centre derived for it from
that secret (the registry's ``edge_key``), and the device accepts exactly those with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from backend.platform.mqtt import MqttClient, MqttError
from edge.protocol import build_topic, encode, make_command
from edge.registry import DeviceRegistry
from edge.settings import EdgeSettings, EdgeStats

log = logging.getLogger(__name__)

LOCAL_COMMAND_TTL_S = 60


class LocalCommands:
    """``branch`` is the edge's client on the branch broker (None: nothing can be sent)."""

    def __init__(
        self,
        settings: EdgeSettings,
        registry: DeviceRegistry,
        branch: MqttClient | None,
        next_seq: Callable[[], int],
        clock: Callable[[], datetime],
        stats: EdgeStats,
    ) -> None:
        self.branch_id = settings.branch_id
        self.edge_id = settings.edge_id
        self.registry = registry
        self.branch = branch
        self.next_seq = next_seq
        self.clock = clock
        self.stats = stats

    def send(self, device_id: str, type_: str, data: dict[str, Any]) -> str | None:
        """Sign with the device's edge key and publish on its cmd topic; the command id."""
        entry = self.registry.get(device_id)
        branch = self.branch
        if entry is None or not entry.edge_key or branch is None:
            self.stats.add("local_command_unroutable")
            return None
        env = make_command(
            type_,
            data,
            self.next_seq(),
            bytes.fromhex(entry.edge_key),
            ttl_s=LOCAL_COMMAND_TTL_S,
            now=self.clock(),
        )
        try:
            branch.publish(
                build_topic(self.branch_id, entry.device_type, device_id, "cmd"),
                encode(env),
                timeout=5,
            )
        except MqttError as exc:
            log.warning(
                "edge %s: local command %s to %s failed: %s", self.edge_id, type_, device_id, exc
            )
            return None
        self.stats.add("local_commands")
        return env.id

    def rebirth(self, device_id: str, reason: str) -> None:
        """Ask a device to publish its birth again (its state, for the centre)."""
        self.stats.add("rebirths_requested")
        self.send(device_id, "device.rebirth", {"reason": reason})
