"""The device endpoints (CONTRACT §2) on the seeded demo app: BR001 and its devices.

Commands go through a recording transport instead of a broker, so signing, idempotency by
command id, timeouts and late acks are checked exactly; the broker path is the e2e tests'.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from backend.devices.commands import CommandDispatcher
from backend.devices.models import Device
from backend.devices.secretbox import SecretBox
from backend.devices.uplinks import Inbound
from backend.identity import service as identity
from backend.identity.models import Org
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from backend.platform.live import RecordingEmitter
from backend.platform.ports import DeviceLink
from backend.roles.ingest import IngestService
from edge.credentials import secret_bytes, verify_password
from edge.protocol import NonceCache, make_ack, make_envelope, parse_topic, verify_command
from tests.conftest import login


@dataclass
class RecordingTransport:
    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def publish(self, topic, payload, qos=1, retain=False, *, timeout=10.0):
        self.sent.append((topic, payload))


@dataclass
class FakeHub:
    box: SecretBox
    commands: CommandDispatcher
    pokes: list[int] = field(default_factory=list)

    def poke(self) -> None:
        self.pokes.append(1)

    # the DeviceLink port
    def send(self, actor, device_id, name, args=None, *, command_id=None, wait_s=None):
        return self.commands.send(
            actor, device_id, name, args, command_id=command_id, wait_s=wait_s
        )

    def registry_changed(self) -> None:
        self.poke()

    def queue_changed(self, branch_id: str) -> None:
        pass


@pytest.fixture
def hub(app):
    ext = app.extensions["finedge"]
    box = SecretBox(ext.config.secret_key)
    transport = RecordingTransport()
    hub = FakeHub(
        box, CommandDispatcher(ext.session_factory, box, transport, default_wait_s=0.3, poll_s=0.05)
    )
    hub.transport = transport
    previous = ext.wiring.get(DeviceLink)
    ext.wiring.provide(DeviceLink, hub)
    yield hub
    ext.wiring.provide(DeviceLink, previous)


@pytest.fixture
def other_branch_teller(app):
    """A teller of BR002, a second branch with one device."""
    ext = app.extensions["finedge"]
    with session_scope(ext.session_factory) as session:
        org = identity.get_or_create_org(session, "BR002", "Branch BR002", "branch", None)
        identity.get_or_create_branch(session, "BR002", "Branch BR002", org)
        identity.create_user(
            session,
            SYSTEM,
            username="teller9",
            password="teller9-demo",
            role="teller",
            org=org,
            branch_id="BR002",
        )
    return "teller9"


def test_provision_shows_secrets_once(app, client, auth, hub):
    body = {"branch_id": "BR001", "device_type": "lock", "device_id": "BR001-LCK-09", "model": "x"}
    created = client.post("/api/v1/devices", json=body, headers=auth("admin"))
    assert created.status_code == 201, created.get_json()
    creds = created.get_json()
    assert set(creds) >= {"device_id", "mqtt_username", "mqtt_password", "hmac_secret"}
    assert creds["mqtt_username"] == "BR001-LCK-09" and len(creds["hmac_secret"]) == 64
    assert hub.pokes  # the edge hears of it at once
    again = client.post("/api/v1/devices", json=body, headers=auth("admin"))
    assert again.status_code == 409
    detail = client.get("/api/v1/devices/BR001-LCK-09", headers=auth("admin")).get_json()
    assert creds["mqtt_password"] not in json.dumps(detail)
    assert creds["hmac_secret"] not in json.dumps(detail)
    assert client.post("/api/v1/devices", json=body, headers=auth("teller1")).status_code == 403
    bad = client.post(
        "/api/v1/devices", json={**body, "device_type": "toaster"}, headers=auth("admin")
    )
    assert bad.status_code == 400 and "device_type" in bad.get_json()["error"]["details"]

    rotated = client.post("/api/v1/devices/BR001-LCK-09/credentials", headers=auth("admin"))
    assert rotated.status_code == 200
    with app.extensions["finedge"].session_factory() as session:
        device = session.scalar(select(Device).where(Device.device_id == "BR001-LCK-09"))
        assert verify_password(device.password_hash, rotated.get_json()["mqtt_password"])
        assert not verify_password(device.password_hash, creds["mqtt_password"])


def test_branch_staff_see_only_their_branch(client, auth, other_branch_teller):
    created = client.post(
        "/api/v1/devices",
        json={"branch_id": "BR002", "device_type": "kiosk", "device_id": "BR002-KSK-01"},
        headers=auth("admin"),
    )
    assert created.status_code == 201
    mine = client.get("/api/v1/devices?limit=100", headers=auth("teller1")).get_json()["items"]
    assert mine and {d["branch_id"] for d in mine} == {"BR001"}
    assert (
        client.get("/api/v1/devices?branch_id=BR002", headers=auth("teller1")).get_json()["items"]
        == []
    )
    hidden = client.get("/api/v1/devices/BR002-KSK-01", headers=auth("teller1"))
    assert hidden.status_code == 404 and hidden.get_json()["error"]["code"] == "device_not_found"
    theirs = login(client, other_branch_teller)
    assert client.get("/api/v1/devices/BR002-KSK-01", headers=theirs).status_code == 200
    assert client.get("/api/v1/devices/BR001-LCK-01", headers=theirs).status_code == 404
    assert client.get("/api/v1/devices", headers=auth("dealer1")).get_json()["items"] == []
    assert client.get("/api/v1/devices/BR001-LCK-01", headers=auth("dealer1")).status_code == 404
    everything = client.get("/api/v1/devices?limit=100", headers=auth("approver1")).get_json()
    assert {d["branch_id"] for d in everything["items"]} == {"BR001", "BR002"}


def test_config_twin_and_lifecycle(client, auth, hub):
    url = "/api/v1/devices/BR001-CNT-01"
    patched = client.patch(
        f"{url}/config", json={"desired": {"idle_timeout_s": 60}}, headers=auth("admin")
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["delta"] == {"idle_timeout_s": {"desired": 60, "reported": None}}
    assert patched.get_json()["desired_version"] == 1 and hub.pokes
    assert (
        client.patch(f"{url}/config", json={"desired": {}}, headers=auth("teller1")).status_code
        == 403
    )
    assert client.patch(f"{url}/config", json={"nope": 1}, headers=auth("admin")).status_code == 400
    twin = client.get(url, headers=auth("teller1")).get_json()["twin"]
    assert twin["desired"] == {"idle_timeout_s": 60} and twin["in_sync"] is False
    assert (
        client.patch(url, json={"status": "maintenance"}, headers=auth("admin")).status_code == 200
    )
    assert client.patch(url, json={"status": "retired"}, headers=auth("admin")).status_code == 200
    back = client.patch(url, json={"status": "active"}, headers=auth("admin"))
    assert back.status_code == 422 and back.get_json()["error"]["code"] == "invalid_transition"


def test_commands_are_signed_sent_once_and_time_out(app, client, auth, hub):
    ext = app.extensions["finedge"]
    command_id = str(uuid.uuid4())
    body = {"name": "lock.lock", "args": {"why": "test"}, "id": command_id, "wait_s": 0.2}
    first = client.post("/api/v1/devices/BR001-LCK-01/commands", json=body, headers=auth("admin"))
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "timeout" and first.get_json()["id"] == command_id
    assert len(hub.transport.sent) == 1
    topic, payload = hub.transport.sent[0]
    assert topic == "fe/v1/BR001/lock/BR001-LCK-01/cmd"
    with ext.session_factory() as session:
        enc = session.scalar(
            select(Device.hmac_secret_enc).where(Device.device_id == "BR001-LCK-01")
        )
    secret = secret_bytes(hub.box.decrypt(enc))
    env = verify_command(payload, secret, seen_nonce=NonceCache())
    assert env.id == command_id and env.type == "lock.lock" and env.data == {"why": "test"}

    retry = client.post("/api/v1/devices/BR001-LCK-01/commands", json=body, headers=auth("admin"))
    assert retry.status_code == 200 and retry.get_json()["id"] == command_id
    assert len(hub.transport.sent) == 1  # never sent twice

    # The device's ack arrives late: the outcome is recorded all the same.
    ingest = IngestService(ext.session_factory, RecordingEmitter())
    topic_ack = parse_topic("fe/v1/BR001/lock/BR001-LCK-01/ack")
    ingest.write([Inbound(topic_ack, make_ack(command_id, "ok", "locked", 7), utcnow())])
    got = client.get(f"/api/v1/devices/BR001-LCK-01/commands/{command_id}", headers=auth("admin"))
    assert got.get_json()["status"] == "ok" and got.get_json()["reason"] == "locked"

    sent_only = client.post(
        "/api/v1/devices/BR001-LCK-01/commands",
        json={"name": "device.ping", "wait_s": 0},
        headers=auth("admin"),
    )
    assert sent_only.status_code == 201 and sent_only.get_json()["status"] == "sent"
    unknown = client.post(
        "/api/v1/devices/BR001-LCK-01/commands", json={"name": "lock.melt"}, headers=auth("admin")
    )
    assert unknown.status_code == 422 and unknown.get_json()["error"]["code"] == "unknown_command"
    forbidden = client.post(
        "/api/v1/devices/BR001-LCK-01/commands", json={"name": "lock.lock"}, headers=auth("teller1")
    )
    assert forbidden.status_code == 403
    assert len(hub.transport.sent) == 2


def test_without_a_broker_a_command_fails_unsent(client, auth):
    answer = client.post(
        "/api/v1/devices/BR001-LCK-01/commands", json={"name": "lock.lock"}, headers=auth("admin")
    )
    assert answer.status_code == 201
    assert answer.get_json()["status"] == "failed"
    assert answer.get_json()["reason"].startswith("not sent")


def test_alarms_list_and_acknowledge(app, client, auth, other_branch_teller):
    ext = app.extensions["finedge"]
    ext.live = RecordingEmitter()
    ingest = IngestService(ext.session_factory, RecordingEmitter())
    topic = parse_topic("fe/v1/BR001/lock/BR001-LCK-01/event")
    ingest.write([Inbound(topic, make_envelope("lock.tamper", {"kind": "drill"}, 1), utcnow())])
    alarms = client.get("/api/v1/devices/alarms", headers=auth("teller1")).get_json()["items"]
    assert [(a["device_id"], a["rule"], a["status"]) for a in alarms] == [
        ("BR001-LCK-01", "tamper", "active_unack")
    ]
    theirs = login(client, other_branch_teller)
    assert client.get("/api/v1/devices/alarms", headers=theirs).get_json()["items"] == []
    alarm_id = alarms[0]["id"]
    assert client.post(f"/api/v1/devices/alarms/{alarm_id}/ack", headers=theirs).status_code == 404
    assert (
        client.post(f"/api/v1/devices/alarms/{alarm_id}/ack", headers=auth("loader1")).status_code
        == 403
    )
    acked = client.post(f"/api/v1/devices/alarms/{alarm_id}/ack", headers=auth("teller1"))
    assert acked.status_code == 200 and acked.get_json()["status"] == "active_ack"
    assert ext.live.sent and ext.live.sent[-1][0] == "device.alarm"
    assert ext.live.sent[-1][2] == ["branch:BR001", "role:admin"]
    still_open = client.get("/api/v1/devices/alarms", headers=auth("admin")).get_json()["items"]
    assert [a["id"] for a in still_open] == [alarm_id]  # acknowledged but still active
    messages = client.get(
        "/api/v1/devices/BR001-LCK-01/messages?channel=event", headers=auth("teller1")
    ).get_json()["items"]
    assert [m["type"] for m in messages] == ["lock.tamper"]


def test_seeded_branch_and_credentials_file(app):
    from backend.devices.seed import credentials_path

    data = json.loads(credentials_path("BR001").read_text())
    kinds = {d["device_type"] for d in data["devices"]}
    assert kinds == {"counter", "cash", "lock", "kiosk", "caller", "display", "camera"}
    with app.extensions["finedge"].session_factory() as session:
        org = session.scalar(select(Org).where(Org.code == "BR001"))
        assert org is not None
        for entry in data["devices"]:
            device = session.scalar(select(Device).where(Device.device_id == entry["device_id"]))
            assert verify_password(device.password_hash, entry["mqtt_password"])
