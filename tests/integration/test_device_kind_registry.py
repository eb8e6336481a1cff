"""A device kind added at run time works end to end on the edge-and-devices side: a throwaway
kind, a self-service kiosk printer, is registered in the wire's kind table and the simulator
registry; its simulator (found through the fleet) logs in to a real embedded branch broker of a
real edge agent, the edge forwards its birth, telemetry and events to the centre, and relays a
command the centre signed to it, whose ack comes back up. Unregistered in teardown."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.platform.mqtt import EmbeddedBroker, Message, MqttClient
from devices.base import CommandRejected, SimulatedDevice, command
from devices.fleet import make_device, select
from devices.identity import DeviceIdentity
from devices.simulators import register_simulator, unregister_simulator
from edge.agent import EdgeAgent
from edge.credentials import derive_edge_key, hash_password, new_hmac_secret, new_password
from edge.protocol import (
    Envelope,
    KindSpec,
    decode_envelope,
    encode,
    host_state_topic,
    make_command,
    make_envelope,
    register_kind,
    unregister_kind,
)
from edge.settings import EdgeSettings
from edge.store import RegistryEntry
from tests.iot_support import wait_for

pytestmark = pytest.mark.timeout(60)

BRANCH = "BR7"

PRINTER = KindSpec(
    "printer",
    "Self-service kiosk printer: prints statements and receipts the centre sends",
    commands=("printer.print",),
    events=("printer.printed",),
    telemetry=("printer.status",),
)


class KioskPrinter(SimulatedDevice):
    """Prints what ``printer.print`` sends while it has paper; reports its paper level."""

    device_type = "printer"
    telemetry_interval_s = 60.0

    def initial_state(self) -> dict[str, Any]:
        return {"paper_pct": 100, "printed": 0}

    def telemetry(self) -> tuple[str, dict[str, Any]]:
        return ("printer.status", dict(self.state))

    @command("printer.print")
    def cmd_print(self, args: dict) -> str:
        document = args.get("document")
        if not isinstance(document, str) or not document:
            raise CommandRejected("document required")
        self.state["printed"] += 1
        self.state["paper_pct"] -= 1
        self.publish("event", "printer.printed", {"document": document})
        return document


@pytest.fixture
def printer_kind() -> Iterator[KindSpec]:
    register_kind(PRINTER)
    try:
        register_simulator("printer", KioskPrinter)
        yield PRINTER
    finally:
        unregister_simulator("printer")
        unregister_kind("printer")


class Centre:
    """The central broker as the edge sees it: a listener of the branch and the host STATE."""

    def __init__(self, broker: EmbeddedBroker) -> None:
        self.broker = broker
        self.client = MqttClient(broker.url, f"centre-{uuid.uuid4().hex[:6]}").connect(5)
        self.received: list[tuple[str, Envelope]] = []
        self.lock = threading.Lock()
        self.client.subscribe(f"fe/v1/{BRANCH}/+/+/#", self._on_message)
        online = make_envelope("host.state", {"online": True, "session": "s1"}, 0)
        self.client.publish(host_state_topic(), encode(online), retain=True)

    def _on_message(self, message: Message) -> None:
        with self.lock:
            self.received.append((message.topic, decode_envelope(message.payload, max_skew_s=None)))

    def of(self, topic: str, type_: str) -> list[Envelope]:
        with self.lock:
            return [env for t, env in self.received if t == topic and env.type == type_]


def test_a_kind_registered_at_run_time_is_simulated_forwarded_and_commanded(printer_kind, tmp_path):
    printer = DeviceIdentity(
        BRANCH, "printer", "PRN1", "PRN1", new_password(), new_hmac_secret(), model="KP-1"
    )
    assert select([printer], BRANCH, {}) == [printer]  # the fleet runs the new kind
    secret = bytes.fromhex(printer.hmac_secret)
    with EmbeddedBroker() as central:
        centre = Centre(central)
        settings = EdgeSettings(
            BRANCH,
            central.url,
            Path(tmp_path),
            mqtt_port=0,
            retry_max_delay=0.5,
            stats_every_s=3600,
        )
        edge = EdgeAgent(settings).start()
        device = make_device(printer, edge.broker.url, retry_max_delay=0.5)
        try:
            entry = RegistryEntry(
                "PRN1",
                "printer",
                "active",
                hash_password(printer.mqtt_password),
                derive_edge_key(secret).hex(),
            )
            edge.apply_registry([entry], 1)
            wait_for(lambda: edge.uplink_live, 10, "edge live")
            assert isinstance(device, KioskPrinter)
            device.start()
            assert device.wait_connected(10)

            topic = f"fe/v1/{BRANCH}/printer/PRN1"
            wait_for(lambda: centre.of(f"{topic}/state", "device.birth"), 10, "the birth")
            assert centre.of(f"{topic}/state", "device.birth")[0].data["model"] == "KP-1"
            device.send_telemetry()
            wait_for(lambda: centre.of(f"{topic}/telemetry", "printer.status"), 10, "telemetry")

            order = make_command("printer.print", {"document": "statement-2025-03"}, 1, secret)
            centre.client.publish(f"{topic}/cmd", encode(order))
            wait_for(lambda: centre.of(f"{topic}/event", "printer.printed"), 10, "printed")
            assert device.acted == [("printer.print", {"document": "statement-2025-03"})]
            wait_for(lambda: centre.of(f"{topic}/ack", "cmd.ack"), 10, "the ack at the centre")
            ack = centre.of(f"{topic}/ack", "cmd.ack")[0].data
            assert (ack["id"], ack["status"], ack["reason"]) == (
                order.id,
                "ok",
                "statement-2025-03",
            )
            assert edge.stats["downlinks"] >= 1 and edge.stats["bad_payload"] == 0
        finally:
            device.stop(graceful=False)
            edge.stop()
            centre.client.close()
