"""Device A cannot touch device B's topics.

On the edge's embedded branch broker (amqtt with the edge's login and ACL plugins) and on a
private Mosquitto shaped like deploy/mosquitto/branch (pattern ACL; the password file holds the
registry's hashes unchanged, which also proves the hash format is Mosquitto's).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from backend.platform.mqtt import MqttClient, MqttConnectError, MqttSubscribeError
from edge.branch_broker import BranchBroker
from edge.credentials import hash_password
from edge.protocol import default_edge_id, encode, make_envelope
from edge.store import RegistryEntry
from tests.integration.test_mqtt import Inbox
from tests.iot_support import EDGE_PW, branch_mosquitto

pytestmark = pytest.mark.timeout(60)

BRANCH = "BR7"
PASSWORDS = {"devA": "pw-a", "devB": "pw-b"}
EDGE = default_edge_id(BRANCH)


def _entries(retired: frozenset[str] = frozenset()) -> list[RegistryEntry]:
    return [
        RegistryEntry(d, "lock", "retired" if d in retired else "active", hash_password(p))
        for d, p in PASSWORDS.items()
    ]


@dataclass
class Target:
    host: str
    port: int
    broker: BranchBroker | None
    clients: list[MqttClient]

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
        registry = [e.to_dict() for e in _entries()]
        with branch_mosquitto(tmp_path / "branch", BRANCH, registry) as edge_url:
            port = int(edge_url.rsplit(":", 1)[1])
            yield Target("127.0.0.1", port, None, clients)
            for client in clients:
                client.close()


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
    for forbidden in (topic("devB", "cmd"), f"fe/v1/{BRANCH}/#"):
        # amqtt refuses in the SUBACK; Mosquitto grants a wildcard and filters each message.
        with contextlib.suppress(MqttSubscribeError):
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
    if target.broker is not None:  # our ACL pins the device type too; the pattern ACL cannot
        assert b"wrong type" not in payloads
    assert [m.payload for m in a_inbox.messages] == [b"for A"]
    # Nothing of B reached A's connection, not even B's retained state.
    assert [m.topic for m in leaked.messages if "/devA/" not in m.topic] == []
    dev_b.publish(topic("devB", "state"), b"", retain=True)


def test_a_retired_device_is_shut_out_at_once(target):
    if target.broker is None:
        pytest.skip("Mosquitto reads its password file at start (the edge would SIGHUP it)")
    edge_inbox = Inbox()
    edge = target.client(EDGE)
    edge.subscribe(f"fe/v1/{BRANCH}/#", edge_inbox)
    dev_b = target.client("devB")
    target.broker.set_devices(_entries(retired=frozenset({"devB"})))
    dev_b.publish(topic("devB", "telemetry"), b"after retirement")
    edge.publish(f"fe/v1/{BRANCH}/lock/devA/telemetry", b"marker")
    assert edge_inbox.wait_for(lambda ms: any(m.payload == b"marker" for m in ms))
    time.sleep(0.2)
    assert b"after retirement" not in [m.payload for m in edge_inbox.messages]
    with pytest.raises(MqttConnectError):
        target.client("devB")
