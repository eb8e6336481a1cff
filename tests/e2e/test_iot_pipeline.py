"""Device -> edge -> central broker -> ingest -> database -> Socket.IO, and outages.

Each scenario runs on the embedded brokers (amqtt) and on Mosquitto: the shared one on
127.0.0.1:1883 as the central broker with a private branch Mosquitto (password file straight
from the registry's hashes, pattern ACL), and a private central Mosquitto where the test must
stop and restart it. Mosquitto variants skip with the reason printed where it is absent.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy import select

from backend.devices import service
from backend.devices.models import DeviceAlarm
from backend.devices.secretbox import SecretBox
from backend.identity import service as identity
from backend.identity.models import Org
from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from tests.conftest import login
from tests.iot_support import (
    add_branch,
    amqtt_central,
    branch_mosquitto,
    iot_rig,
    mosquitto_central,
    shared_central,
    unique_branch,
    wait_for,
)

pytestmark = pytest.mark.timeout(90)

HALL = {"lock": 1, "cash": 1, "counter": 1, "kiosk": 1, "caller": 1, "display": 1}


def _branch_teller(app, branch_id: str) -> str:
    username = f"teller-{branch_id.lower()}"
    with session_scope(app.extensions["finedge"].session_factory) as session:
        org = session.scalar(select(Org).where(Org.code == "BR001"))
        identity.create_user(
            session,
            SYSTEM,
            username=username,
            password=f"{username}-demo",
            role="teller",
            org=org,
            branch_id=branch_id,
        )
    return username


def _socket(app, client, username):
    token = login(client, username)["Authorization"].split()[1]
    sio = app.extensions["finedge"].socketio.test_client(
        app, namespace="/live", auth={"token": token}
    )
    assert sio.is_connected("/live")
    return sio


@pytest.mark.parametrize(
    "brokers", ["amqtt", pytest.param("mosquitto", marks=pytest.mark.mosquitto)]
)
def test_device_to_database_to_socketio(brokers, app, client, tmp_path):
    branch = unique_branch()
    identities = add_branch(app, branch, HALL, tmp_path / "creds.json")
    teller = _branch_teller(app, branch)
    with ExitStack() as stack:
        if brokers == "amqtt":
            central = stack.enter_context(amqtt_central(branch))
            branch_url = None
        else:
            central = stack.enter_context(shared_central())
            ext = app.extensions["finedge"]
            with ext.session_factory() as session:
                registry = service.branch_registry(
                    session, SecretBox(ext.config.secret_key), branch
                )["devices"]
            branch_url = stack.enter_context(
                branch_mosquitto(tmp_path / "branch", branch, registry)
            )
        rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
        rig.branch_url = branch_url
        admin_sio = _socket(app, client, "admin")
        teller_sio = _socket(app, client, teller)
        other_sio = _socket(app, client, "teller1")  # a teller of BR001
        rig.start_hub()
        rig.start_edge()
        rig.start_fleet(identities)
        rig.wait_live()

        lock_id = next(i.device_id for i in identities if i.device_type == "lock")
        lock = rig.device(lock_id)
        env = lock.publish("telemetry", "lock.status", {"lock": "locked", "probe": 1})
        lock.tamper()
        rig.wait_ids({env.id})
        wait_for(lambda: rig.hub.ingest.drain(1) and rig.device_row(lock_id).online, 10, "online")

        stored = [m for m in rig.messages(lock_id) if m.envelope_id == env.id]
        assert (
            len(stored) == 1 and stored[0].data["probe"] == 1 and stored[0].channel == "telemetry"
        )

        def alarm_raised() -> bool:
            with rig.ext.session_factory() as session:
                return (
                    session.scalar(
                        select(DeviceAlarm).where(
                            DeviceAlarm.branch_id == branch, DeviceAlarm.rule == "tamper"
                        )
                    )
                    is not None
                )

        wait_for(alarm_raised, 10, "tamper alarm")

        def names(sio) -> list[tuple[str, str | None]]:
            return [(e["name"], e["args"][0].get("device_id")) for e in sio.get_received("/live")]

        wait_for(lambda: rig.hub.ingest.drain(1), 5)
        admin_events = names(admin_sio)
        teller_events = names(teller_sio)
        assert ("device.state", lock_id) in admin_events
        assert ("device.alarm", lock_id) in admin_events
        assert ("device.alarm", lock_id) in teller_events
        assert all(
            device_id is None or device_id.startswith(branch) or device_id.startswith("edge-")
            for _name, device_id in teller_events
        )
        assert names(other_sio) == []  # another branch's teller hears nothing of this branch

        # The state document follows the event; a device that lost its connection in between
        # (seen once under full-suite load on Mosquitto) sends it after reconnecting.
        wait_for(
            lambda: rig.hub.ingest.drain(1) and rig.device_row(lock_id).state.get("tamper"),
            15,
            "tamper in the state document",
        )

        # HTTP: the branch's teller sees the device, BR001's teller gets 404.
        detail = client.get(f"/api/v1/devices/{lock_id}", headers=login(client, teller))
        assert detail.status_code == 200, detail.get_json()
        body = detail.get_json()
        assert body["online"] is True and body["state"]["tamper"] is True
        assert [a["rule"] for a in body["alarms"]] == ["tamper"]
        hidden = client.get(f"/api/v1/devices/{lock_id}", headers=login(client, "teller1"))
        assert hidden.status_code == 404
        assert hidden.get_json()["error"]["code"] == "device_not_found"
        for sio in (admin_sio, teller_sio, other_sio):
            sio.disconnect(namespace="/live")


def _central(stack: ExitStack, kind: str, tmp_path, branch: str):
    if kind == "amqtt":
        return stack.enter_context(amqtt_central(branch))
    return stack.enter_context(mosquitto_central(tmp_path / "central", branch))


@pytest.mark.parametrize(
    ("kind", "edge_restart"),
    [
        ("amqtt", False),
        ("amqtt", True),
        pytest.param("mosquitto", False, marks=pytest.mark.mosquitto),
        pytest.param("mosquitto", True, marks=pytest.mark.mosquitto),
    ],
)
def test_outage_loses_nothing_and_keeps_order(kind, edge_restart, app, tmp_path):
    """Central broker down while devices send; optionally the edge restarts meanwhile."""
    branch = unique_branch()
    identities = add_branch(app, branch, {"counter": 2, "cash": 1}, tmp_path / "creds.json")
    per_device = 12
    with ExitStack() as stack:
        central = _central(stack, kind, tmp_path, branch)
        rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
        rig.start_hub()
        rig.start_edge()
        fleet = rig.start_fleet(identities)
        rig.wait_live()
        warmup = [d.publish("telemetry", "test.before", {"n": -1}).id for d in fleet.devices]
        rig.wait_ids(set(warmup))

        central.stop()
        edge = rig.edge
        wait_for(lambda: not edge.uplink_live, 10, "edge notices the outage")
        sent: dict[str, list[str]] = {d.device_id: [] for d in fleet.devices}

        def send(start: int, stop: int) -> None:
            for n in range(start, stop):
                for device in fleet.devices:
                    env = device.publish("telemetry", "test.outage", {"n": n})
                    sent[device.device_id].append(env.id)

        send(0, per_device // 2)
        if edge_restart:
            wait_for(lambda: all(d.buffered == 0 for d in fleet.devices), 10, "devices flushed")
            rig.stop_edge()
            send(per_device // 2, per_device - 2)  # buffered on the devices meanwhile
            rig.start_edge()
            assert rig.edge.pending >= len(fleet.devices) * (per_device // 2)  # from disk
            assert fleet.wait_connected(15)
            send(per_device - 2, per_device)
        else:
            send(per_device // 2, per_device)
        wait_for(lambda: all(d.buffered == 0 for d in fleet.devices), 15, "devices flushed")
        total = len(fleet.devices) * per_device
        wait_for(lambda: rig.edge.pending >= total, 10, "all in the edge's outbox")

        central.start()
        try:
            rig.wait_ids({i for ids in sent.values() for i in ids}, timeout=30)
        except AssertionError as exc:  # seen once in 17 runs under two CPU burners: say where
            raise AssertionError(
                f"{exc}; edge uplink_live={rig.edge.uplink_live} pending={rig.edge.pending}"
                f" stats={rig.edge.stats_snapshot()}"
            ) from None

        for device_id, ids in sent.items():
            rows = [m for m in rig.messages(device_id) if m.type == "test.outage"]
            assert [m.envelope_id for m in rows] == ids  # each exactly once, in device order
            assert [m.data["n"] for m in rows] == list(range(per_device))
            assert all(m.historical for m in rows)
        wait_for(lambda: rig.edge.pending == 0, 10, "outbox drained")
