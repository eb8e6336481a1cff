"""What the edge knows of its link to the centre, in one small object.

The centre link (edge/centre.py) writes it: the client on the central broker, whether the
central host said it is online (its retained STATE, Sparkplug) and whether it sends receipts,
and whether the edge's own birth went out since. Whoever must know whether an uplink goes up
live now (the outbox, the offline hall calls) reads ``live``: connected, host online, born.
"""

from __future__ import annotations

from backend.platform.mqtt import MqttClient


class UplinkStatus:
    def __init__(self) -> None:
        self.client: MqttClient | None = None
        self.host_online = False
        self.host_session: str | None = None
        self.receipts = False
        self.born = False

    @property
    def connected(self) -> bool:
        client = self.client
        return bool(client and client.connected)

    @property
    def live(self) -> bool:
        client = self.client
        return bool(client and client.connected and self.host_online and self.born)

    def reset(self) -> None:
        """A fresh connection (or none): nothing known of the host until its STATE arrives."""
        self.born = False
        self.host_online = False
        self.host_session = None
