"""Device A cannot touch device B's topics, and a retired device is shut out at once.

On the edge's embedded branch broker (amqtt with the edge's login and ACL plugins) and on a
private Mosquitto started from deploy/mosquitto/branch (the dynamic security plugin, its
accounts kept by the edge's ``DynsecBranchAccounts`` from the registry: the devices'
passwords sealed for the edge, opened and checked against their hashes).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from backend.platform.mqtt import MqttClient, MqttConnectError, MqttError, MqttSubscribeError
from edge.branch_accounts import DynsecBranchAccounts, ServiceLogin
from edge.branch_broker import BranchBroker
from edge.credentials import hash_password
from edge.protocol import default_edge_id, encode, make_envelope
from edge.sealing import seal, seal_key
from edge.store import RegistryEntry
from tests.dynsec_support import make_certs, start_dynsec_mosquitto
from tests.integration.test_mqtt import Inbox
from tests.iot_support import EDGE_PW, wait_for

pytestmark = pytest.mark.timeout(60)

BRANCH = "BR7"
PASSWORDS = {"devA": "pw-a", "devB": "pw-b"}
EDGE = default_edge_id(BRANCH)
SEAL = seal_key("the edge's central password", EDGE)
HASHES = {device_id: hash_password(password) for device_id, password in PASSWORDS.items()}


def _entries(retired: frozenset[str] = frozenset()) -> list[RegistryEntry]:
    """The registry as the centre sends it: the stored hashes, the passwords sealed anew."""
    entries = []
    for device_id, password in PASSWORDS.items():
        if device_id in retired:  # as the centre lists a retired device: no credentials
            entries.append(RegistryEntry(device_id, "lock", "retired"))
        else:
            sealed = seal(SEAL, password)
            entries.append(
                RegistryEntry(device_id, "lock", "active", HASHES[device_id], None, sealed)
            )
    return entries


@dataclass
class Target:
    host: str
    port: int
    broker: BranchBroker | DynsecBranchAccounts
    clients: list[MqttClient]

    @property
    def embedded(self) -> bool:
        return isinstance(self.broker, BranchBroker)

    def apply(self, entries: list[RegistryEntry]) -> None:
        """A new registry, in force when this returns."""
        if isinstance(self.broker, BranchBroker):
            self.broker.set_devices(entries)
            return
        self.broker.set_devices(entries)
        assert self.broker.wait_current(10), self.broker.last_error

    def client(self, user: str | None, password: str | None = None) -> MqttClient:
        auth = "" if user is None else f"{user}:{password or PASSWORDS.get(user, EDGE_PW)}@"
        client = MqttClient(
            f"mqtt://{auth}{self.host}:{self.port}", f"{user}-{uuid.uuid4().hex[:6]}"
        )
        self.clients.append(client)
        return client.connect(timeout=5)


@pytest.fixture(params=["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def target(request, tmp_path) -> Iterator[Target]:
    clients: list[MqttClient] = []
    if request.param == "amqtt":
        broker = BranchBroker(BRANCH)
        broker.set_devices(_entries())
        broker.add_user(EDGE, EDGE_PW)
        broker.start()
        yield Target("127.0.0.1", broker.port, broker, clients)
        for client in clients:
            client.close()
        broker.stop()
    else:
        mosquitto = start_dynsec_mosquitto(tmp_path / "branch", "branch", make_certs(tmp_path))
        accounts = DynsecBranchAccounts(
            BRANCH, mosquitto.admin_url, seal_key=SEAL, service=[ServiceLogin(EDGE, EDGE_PW)]
        ).start(_entries())
        yield Target("127.0.0.1", mosquitto.port, accounts, clients)
        for client in clients:
            client.close()
        accounts.stop()
        mosquitto.stop()


def topic(device: str, channel: str) -> str:
    return f"fe/v1/{BRANCH}/lock/{device}/{channel}"


def test_logins(target):
    assert target.client("devA").connected
    for user, password in (("devA", "pw-b"), ("mallory", "pw-a")):
        with pytest.raises(MqttConnectError):
            target.client(user, password)
    with pytest.raises(MqttConnectError):
        target.client(None)


def test_a_device_cannot_publish_or_read_another_devices_topics(target):
    edge_inbox = Inbox()
    edge = target.client(EDGE)
    edge.subscribe(f"fe/v1/{BRANCH}/#", edge_inbox)
    # B's retained state exists before A connects: A must not get it.
    dev_b = target.client("devB")
    dev_b.publish(topic("devB", "state"), encode(make_envelope("device.birth", {}, 1)), retain=True)

    a_inbox = Inbox()
    dev_a = target.client("devA")
    dev_a.subscribe(topic("devA", "cmd"), a_inbox)
    leaked = Inbox()
    for forbidden in (topic("devB", "cmd"), f"fe/v1/{BRANCH}/#", f"fe/v1/{BRANCH}/lock/+/cmd"):
        with pytest.raises(MqttSubscribeError):  # both refuse in the SUBACK
            dev_a.subscribe(forbidden, leaked)

    dev_a.publish(topic("devB", "telemetry"), b"spoofed by A")
    dev_a.publish(f"fe/v1/{BRANCH}/cash/devA/telemetry", b"wrong type")
    dev_a.publish(topic("devA", "telemetry"), b"genuine")
    edge.publish(topic("devB", "cmd"), b"for B")
    edge.publish(topic("devA", "cmd"), b"for A")
    assert edge_inbox.wait_for(lambda ms: any(m.payload == b"genuine" for m in ms))
    assert a_inbox.wait_for(lambda ms: any(m.payload == b"for A" for m in ms))
    time.sleep(0.3)
    assert dev_a.wait_idle(5) and edge.wait_idle(5)
    payloads = [m.payload for m in edge_inbox.messages]
    assert b"spoofed by A" not in payloads
    assert b"wrong type" not in payloads  # the device's type is part of its topics
    assert [m.payload for m in a_inbox.messages] == [b"for A"]
    # Nothing of B reached A's connection, not even B's retained state.
    assert [m.topic for m in leaked.messages if "/devA/" not in m.topic] == []
    dev_b.publish(topic("devB", "state"), b"", retain=True)


def test_a_retired_device_is_shut_out_at_once(target):
    edge_inbox = Inbox()
    edge = target.client(EDGE)
    edge.subscribe(f"fe/v1/{BRANCH}/#", edge_inbox)
    dev_a, dev_b = target.client("devA"), target.client("devB")
    target.apply(_entries(retired=frozenset({"devB"})))
    if not target.embedded:  # the plugin closes its connection; amqtt keeps it, topic-less
        wait_for(lambda: not dev_b.connected, 5, "devB disconnected")
    with contextlib.suppress(MqttError):  # not connected: nothing goes out
        dev_b.publish(topic("devB", "telemetry"), b"after retirement", timeout=1)
    dev_a.publish(topic("devA", "telemetry"), b"marker")
    assert edge_inbox.wait_for(lambda ms: any(m.payload == b"marker" for m in ms))
    assert dev_a.connected  # the others are not disturbed
    time.sleep(0.2)
    assert b"after retirement" not in [m.payload for m in edge_inbox.messages]
    with pytest.raises(MqttConnectError):
        target.client("devB")
    assert target.client("devA").connected


def test_an_unchanged_registry_disturbs_nobody(target):
    dev_a = target.client("devA")
    target.apply(_entries())
    target.apply(_entries())
    assert dev_a.connected and dev_a.stats.disconnects == 0
    if not target.embedded:
        assert not target.broker.last.changed, target.broker.last.summary()


def test_a_rotated_password_applies_at_once(target):
    dev_a = target.client("devA")
    entries = [e for e in _entries() if e.device_id != "devA"]
    rotated = "pw-a-rotated"
    entries.append(
        RegistryEntry("devA", "lock", "active", hash_password(rotated), None, seal(SEAL, rotated))
    )
    target.apply(entries)
    with pytest.raises(MqttConnectError):
        target.client("devA", "pw-a")
    assert target.client("devA", "pw-a-rotated").connected
    if not target.embedded:  # the plugin also closes the session of the old password
        wait_for(lambda: dev_a.stats.disconnects >= 1, 5, "old session closed")
