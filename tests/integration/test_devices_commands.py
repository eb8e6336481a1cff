"""Signed commands and the device twin through the whole chain (hub -> central broker -> edge ->
device -> ack -> ingest -> database), on the embedded brokers.

A forged, expired or replayed command never acts; a command id sent again is never resent; a
slow ack ends as timeout and is recorded when it comes; the edge's derived key can ask for a
rebirth or a printed ticket but never open a lock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.devices import queries
from backend.platform.context import SYSTEM
from backend.platform.mqtt import MqttClient
from edge.credentials import derive_edge_key, secret_bytes
from edge.protocol import encode, make_command
from tests.conftest import login
from tests.iot_support import add_branch, amqtt_central, iot_rig, unique_branch, wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def chain(app, tmp_path):
    branch = unique_branch()
    identities = add_branch(app, branch, {"lock": 1, "counter": 1}, tmp_path / "creds.json")
    with amqtt_central() as central, iot_rig(app, central, tmp_path, branch) as rig:
        rig.start_hub()
        rig.start_edge()
        rig.start_fleet(identities)
        rig.wait_live()
        rig.identities = {i.device_type: i for i in identities}
        yield rig


def _command(chain, device_id: str, command_id: str) -> dict:
    """The command as the API reads it (devices' queries)."""
    with chain.ext.session_factory() as session:
        return queries.get_command(session, SYSTEM, device_id, command_id)


def test_forged_expired_and_replayed_commands_never_act(chain):
    lock_identity = chain.identities["lock"]
    lock = chain.device(lock_identity.device_id)
    topic = lock.topic("cmd")
    captured: list[bytes] = []
    spy = MqttClient(chain.central.backend_url, f"spy-{uuid.uuid4().hex[:6]}").connect(5)
    spy.subscribe(topic, lambda m: captured.append(m.payload))

    args = {"loader_id": "loader1", "captures": 3, "valid_for_s": 120}
    view, created = chain.hub.commands.send(SYSTEM, lock_identity.device_id, "lock.enroll", args)
    assert created and view["status"] == "ok", view
    assert sorted(lock.captures) == ["loader1"] and len(lock.acted) == 1
    wait_for(lambda: captured, 5, "the command on the wire")

    secret = secret_bytes(lock_identity.hmac_secret)
    forged = make_command("lock.enroll", {**args, "loader_id": "mallory"}, 1, b"guess")
    past = datetime.now(UTC) - timedelta(minutes=10)
    expired = make_command(
        "lock.enroll", {**args, "loader_id": "late"}, 2, secret, ttl_s=60, now=past
    )
    edge_key = derive_edge_key(secret)
    edge_signed = make_command("lock.enroll", {**args, "loader_id": "edge"}, 3, edge_key)
    spy.publish(topic, encode(forged))
    spy.publish(topic, encode(expired))
    spy.publish(topic, captured[0])  # the genuine command once more: a replay
    spy.publish(topic, encode(edge_signed))  # the edge's key may not enroll anyone
    wait_for(lambda: len(lock.acks) >= 5, 10, "four refusals")
    reasons = {ack.command_id: ack.reason for ack in lock.acks if ack.status == "rejected"}
    assert reasons[forged.id] == "bad_signature"
    assert reasons[expired.id] == "expired"
    assert reasons[view["id"]] == "replayed"
    assert reasons[edge_signed.id] == "bad_signature"
    assert sorted(lock.captures) == ["loader1"] and len(lock.acted) == 1

    # The replay's refusal came back up, but the first terminal ack stays the outcome.
    wait_for(lambda: chain.hub.ingest.drain(1), 5)
    again = _command(chain, lock_identity.device_id, view["id"])
    assert again["status"] == "ok"
    spy.close()


def test_a_command_id_is_never_sent_twice(chain):
    counter_id = chain.identities["counter"].device_id
    counter = chain.device(counter_id)
    command_id = str(uuid.uuid4())
    first, created = chain.hub.commands.send(
        SYSTEM, counter_id, "counter.set_mode", {"mode": "out_of_service"}, command_id=command_id
    )
    assert created and first["status"] == "ok"
    second, created_again = chain.hub.commands.send(
        SYSTEM, counter_id, "counter.set_mode", {"mode": "out_of_service"}, command_id=command_id
    )
    assert not created_again and second["status"] == "ok"
    assert [name for name, _args in counter.acted] == ["counter.set_mode"]
    assert counter.state["mode"] == "out_of_service"


def test_a_slow_ack_times_out_and_is_recorded_later(chain):
    counter_id = chain.identities["counter"].device_id
    counter = chain.device(counter_id)
    counter.faults.ack_delay_s = 1.0
    view, _created = chain.hub.commands.send(
        SYSTEM, counter_id, "counter.print_test", {}, wait_s=0.3
    )
    assert view["status"] == "timeout"

    def outcome() -> str:
        return _command(chain, counter_id, view["id"])["status"]

    wait_for(lambda: outcome() == "ok", 10, "the late ack")


def test_desired_config_reaches_the_device_and_the_twin_converges(chain, app, client):
    lock_id = chain.identities["lock"].device_id
    admin = login(client, "admin")
    patched = client.patch(
        f"/api/v1/devices/{lock_id}/config",
        json={"desired": {"relock_after_s": 45, "volume": 3}},
        headers=admin,
    )
    assert patched.status_code == 200 and patched.get_json()["in_sync"] is False
    lock = chain.device(lock_id)
    wait_for(lambda: lock.config_version == 1, 10, "the device applied the config")
    assert lock.config["relock_after_s"] == 45

    def twin() -> dict:
        return client.get(f"/api/v1/devices/{lock_id}", headers=admin).get_json()["twin"]

    wait_for(lambda: twin()["reported_version"] == 1, 10, "reported config")
    state = twin()
    assert state["rejected"] == {"volume": "unknown setting"}
    assert state["delta"] == {"volume": {"desired": 3, "reported": None}}
    assert not state["in_sync"]
