"""Device registry, twin, alarms and the ingest's writes, on SQLite and PostgreSQL; no broker.

The ingest is driven directly with ``IngestService.write`` (what its writer thread does with a
batch), so exactly-once, effects and alarms are checked without timing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.branch.ports import HallPort
from backend.devices import service
from backend.devices.models import Device, DeviceAlarm, DeviceCommand, DeviceMessage
from backend.devices.secretbox import SecretBox
from backend.devices.uplinks import Inbound
from backend.identity import service as identity
from backend.platform.audit import AuditRecord
from backend.platform.clock import utcnow
from backend.platform.context import SYSTEM, Actor
from backend.platform.db import session_scope
from backend.platform.errors import (
    BusinessRuleViolation,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from backend.platform.live import RecordingEmitter
from backend.platform.ports import HallForDevices, UplinkRoutes
from backend.roles.ingest import IngestService, IngestSettings
from edge.credentials import verify_password
from edge.protocol import make_ack, make_envelope, parse_topic
from tests.wiring import wired_factory

KEY = "k" * 48


@pytest.fixture
def box():
    return SecretBox(KEY)


@pytest.fixture
def branch(session_factory):
    with session_scope(session_factory) as session:
        org = identity.get_or_create_org(session, "BR9", "Branch 9", "branch", None)
        identity.get_or_create_branch(session, "BR9", "Branch 9", org)
        identity.get_or_create_branch(session, "BR8", "Branch 8", org)
    return "BR9"


def provision(session_factory, box, device_id="L1", device_type="lock", branch_id="BR9"):
    with session_scope(session_factory) as session:
        _device, creds = service.provision_device(
            session,
            SYSTEM,
            box,
            branch_id=branch_id,
            device_type=device_type,
            device_id=device_id,
            model="m",
        )
    return creds


def test_provisioning_returns_secrets_once_and_stores_hash_and_ciphertext(
    session_factory, box, branch
):
    creds = provision(session_factory, box)
    with session_factory() as session:
        device = session.scalar(select(Device).where(Device.device_id == "L1"))
        assert device.status == "provisioned" and device.mqtt_username == "L1"
        assert creds.mqtt_password not in (device.password_hash or "")
        assert verify_password(device.password_hash, creds.mqtt_password)
        assert creds.hmac_secret not in device.hmac_secret_enc
        assert box.decrypt(device.hmac_secret_enc) == creds.hmac_secret
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action == "device.provision")
            )
            == 1
        )
        with pytest.raises(Conflict):
            service.provision_device(
                session, SYSTEM, box, branch_id="BR9", device_type="lock", device_id="L1"
            )
        with pytest.raises(BusinessRuleViolation):
            service.provision_device(
                session, SYSTEM, box, branch_id="NOPE", device_type="lock", device_id="L2"
            )
        with pytest.raises(ValidationFailed):
            service.provision_device(
                session, SYSTEM, box, branch_id="BR9", device_type="toaster", device_id="a/b"
            )
        teller = Actor(1, "t", "teller", None, "BR9")
        with pytest.raises(PermissionDenied):
            service.provision_device(
                session, teller, box, branch_id="BR9", device_type="lock", device_id="L3"
            )


def test_lifecycle_twin_and_registry(session_factory, box, branch):
    creds = provision(session_factory, box)
    with session_scope(session_factory) as session:
        service.change_status(session, SYSTEM, "L1", "maintenance")
        device = service.set_desired(session, SYSTEM, "L1", {"a": 1, "b": {"c": 2, "d": 3}})
        device = service.set_desired(session, SYSTEM, "L1", {"b": {"d": None}, "e": "x"})
        assert device.desired == {"a": 1, "b": {"c": 2}, "e": "x"}
        assert device.desired_version == 2
        device.reported = {"config": {"a": 1, "b": {"c": 2}}, "rejected": {"e": "unknown"}}
        device.reported_version = 2
        twin = service.twin(device)
        assert twin["delta"] == {"e": {"desired": "x", "reported": None}}
        assert twin["rejected"] == {"e": "unknown"} and not twin["in_sync"]
        registry = service.branch_registry(session, box, "BR9")
        assert [d["device_id"] for d in registry["devices"]] == ["L1"]
        assert registry["devices"][0]["password_hash"] == device.password_hash
        from edge.credentials import derive_edge_key, secret_bytes

        expected_key = derive_edge_key(secret_bytes(creds.hmac_secret)).hex()
        assert registry["devices"][0]["edge_key"] == expected_key
        version = registry["version"]
    with session_scope(session_factory) as session:
        service.change_status(session, SYSTEM, "L1", "retired")
        with pytest.raises(BusinessRuleViolation):
            service.change_status(session, SYSTEM, "L1", "active")
        entry = service.branch_registry(session, box, "BR9")
        assert entry["version"] > version
        assert entry["devices"][0]["password_hash"] is None  # retired: cannot log in
        assert entry["devices"][0]["edge_key"] is None


def test_the_registry_seals_each_password_for_the_branchs_edge(session_factory, box, branch):
    """A branch Mosquitto's dynsec accounts need clear passwords: the registry carries each
    one sealed for that branch's edge (its central login password is the key's root), so
    only that edge can open it, and the password matches the stored hash."""
    from backend.platform.mqtt.central import login_password
    from edge.credentials import mqtt_password_for
    from edge.sealing import SealError, open_password, seal_key

    creds = provision(session_factory, box)
    assert creds.mqtt_password == mqtt_password_for(creds.hmac_secret)  # derived, not stored
    mine = seal_key(login_password(KEY, "edge-br9"), "edge-br9")
    with session_scope(session_factory) as session:
        [entry] = service.branch_registry(session, box, "BR9")["devices"]
        assert creds.mqtt_password not in str(entry)
        opened = open_password(mine, entry["password_sealed"], entry["password_hash"])
        assert opened == creds.mqtt_password
        theirs = seal_key(login_password(KEY, "edge-br8"), "edge-br8")
        with pytest.raises(SealError):
            open_password(theirs, entry["password_sealed"], entry["password_hash"])
        rotated = service.rotate_credentials(session, SYSTEM, box, "L1")
    with session_scope(session_factory) as session:
        [entry] = service.branch_registry(session, box, "BR9")["devices"]
        assert open_password(mine, entry["password_sealed"], entry["password_hash"]) == (
            rotated.mqtt_password
        )
        assert rotated.mqtt_password != creds.mqtt_password
        service.change_status(session, SYSTEM, "L1", "retired")
    with session_scope(session_factory) as session:
        [entry] = service.branch_registry(session, box, "BR9")["devices"]
        assert entry["password_sealed"] is None and entry["password_hash"] is None


def test_visibility_by_branch(session_factory, box, branch):
    provision(session_factory, box, "L1", branch_id="BR9")
    provision(session_factory, box, "L8", branch_id="BR8")
    teller9 = Actor(11, "t9", "teller", 5, "BR9")
    head_office = Actor(12, "ap", "approver", 1, None)
    dealer = Actor(13, "d", "dealer", 7, None)
    with session_factory() as session:
        assert service.get_device(session, teller9, "L1").device_id == "L1"
        with pytest.raises(NotFound):
            service.get_device(session, teller9, "L8")
        with pytest.raises(NotFound):
            service.get_device(session, dealer, "L1")
        assert [d.device_id for d in service.list_devices(session, teller9).items] == ["L1"]
        ids = [d.device_id for d in service.list_devices(session, head_office).items]
        assert ids == ["L1", "L8"]
        assert service.list_devices(session, dealer).items == []


def _inbound(branch, device_type, device_id, channel, env):
    topic = parse_topic(f"fe/v1/{branch}/{device_type}/{device_id}/{channel}")
    return Inbound(topic, env, utcnow())


def test_ingest_writes_once_applies_effects_and_raises_alarms(session_factory, box, branch):
    provision(session_factory, box, "L1", "lock")
    provision(session_factory, box, "ATM1", "cash")
    live = RecordingEmitter()
    committed: list[str] = []
    ingest = IngestService(
        session_factory, live, settings=IngestSettings(), on_committed=committed.extend
    )
    birth = make_envelope(
        "device.birth", {"online": True, "session": "s1", "state": {"tamper": False}}, 1
    )
    tamper = make_envelope("lock.tamper", {"kind": "forced_open"}, 2)
    door = make_envelope("cash.safe_door_opened", {"mode": "normal"}, 1)
    low = make_envelope(
        "cash.units",
        {
            "units": [{"unit": "C1", "status": "low"}, {"unit": "C2", "status": "ok"}],
            "safe_door": "open",
        },
        2,
    )
    items = [
        _inbound("BR9", "lock", "L1", "state", birth),
        _inbound("BR9", "lock", "L1", "event", tamper),
        _inbound("BR9", "lock", "L1", "event", tamper),  # duplicate within the batch
        _inbound("BR9", "cash", "ATM1", "event", door),
        _inbound("BR9", "cash", "ATM1", "telemetry", low),
        _inbound("BR9", "lock", "NOPE", "event", make_envelope("lock.tamper", {}, 1)),
        _inbound("BR9", "cash", "L1", "event", make_envelope("cash.x", {}, 3)),  # wrong type
    ]
    ingest.write(items)
    ingest.write([items[1], items[3]])  # a later duplicate batch (e.g. an outbox replay)
    assert committed == [birth.id, tamper.id, door.id, low.id]
    assert ingest.stats["duplicates"] == 3 and ingest.stats["unknown_device"] == 2
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DeviceMessage)) == 4
        lock = session.scalar(select(Device).where(Device.device_id == "L1"))
        assert lock.online and lock.session == "s1" and lock.status == "active"
        alarms = {a.rule: a for a in session.scalars(select(DeviceAlarm))}
        assert set(alarms) == {"tamper", "safe_door_open_without_task", "low_cash"}
        assert alarms["tamper"].severity == "critical" and alarms["tamper"].status == "active_unack"
        assert alarms["low_cash"].severity == "minor"
    events = [(e, d.get("device_id"), r) for e, d, r in live.sent]
    assert ("device.state", "L1", ["branch:BR9", "role:admin"]) in events
    assert sum(1 for e, _d, _r in events if e == "device.alarm") == 3

    # The door closes, the unit is refilled: alarms clear; acknowledgement closes them.
    closed = make_envelope("cash.safe_door_closed", {}, 3)
    refilled = make_envelope("cash.units", {"units": [{"unit": "C1", "status": "ok"}]}, 4)
    ingest.write([_inbound("BR9", "cash", "ATM1", "event", closed)])
    ingest.write([_inbound("BR9", "cash", "ATM1", "telemetry", refilled)])
    with session_scope(session_factory) as session:
        door_alarm = session.scalar(
            select(DeviceAlarm).where(DeviceAlarm.rule == "safe_door_open_without_task")
        )
        assert door_alarm.status == "cleared_unack" and not door_alarm.closed
        alarm, _device = service.acknowledge_alarm(session, SYSTEM, door_alarm.id)
        assert alarm.closed and alarm.status == "cleared_ack"
        teller8 = Actor(21, "t8", "teller", 5, "BR8")
        with pytest.raises(NotFound):
            service.acknowledge_alarm(session, teller8, door_alarm.id)
        loader9 = Actor(22, "l9", "loader", 5, "BR9")
        with pytest.raises(PermissionDenied):
            service.acknowledge_alarm(session, loader9, door_alarm.id)

    # A death of an older session does not take the device offline.
    stale = make_envelope("device.death", {"online": False, "session": "old"}, 9)
    ingest.write([_inbound("BR9", "lock", "L1", "state", stale)])
    with session_factory() as session:
        assert session.scalar(select(Device.online).where(Device.device_id == "L1"))
    death = make_envelope("device.death", {"online": False, "session": "s1"}, 9)
    ingest.write([_inbound("BR9", "lock", "L1", "state", death)])
    with session_factory() as session:
        assert not session.scalar(select(Device.online).where(Device.device_id == "L1"))


def test_safe_door_with_an_open_cash_task_raises_nothing(engine, session_factory, box, branch):
    provision(session_factory, box, "ATM1", "cash")
    asked = []

    class Hall(HallPort):
        def cash_task_open(self, _session, device_id, _now):
            asked.append(device_id)
            return True

    factory = wired_factory(engine, ports={HallForDevices: Hall()})
    ingest = IngestService(factory, RecordingEmitter())
    door = make_envelope("cash.safe_door_opened", {}, 1)
    ingest.write([_inbound("BR9", "cash", "ATM1", "event", door)])
    assert asked == ["ATM1"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DeviceAlarm)) == 0


def test_offline_sweep_and_acks(session_factory, box, branch):
    provision(session_factory, box, "L1", "lock")
    live = RecordingEmitter()
    acked = []
    ingest = IngestService(
        session_factory,
        live,
        settings=IngestSettings(offline_after_s=30),
        on_ack=lambda cid, status: acked.append((cid, status)),
    )
    birth = make_envelope("device.birth", {"online": True, "session": "s"}, 1)
    death = make_envelope("device.death", {"online": False, "session": "s"}, 1)
    ingest.write([_inbound("BR9", "lock", "L1", "state", birth)])
    ingest.write([_inbound("BR9", "lock", "L1", "state", death)])
    assert ingest.sweep(utcnow() + timedelta(seconds=10)) == {"alarm_changes": 0}
    assert ingest.sweep(utcnow() + timedelta(seconds=60)) == {"alarm_changes": 1}
    assert ingest.sweep(utcnow() + timedelta(seconds=90)) == {"alarm_changes": 0}  # once
    ingest.write(
        [
            _inbound(
                "BR9",
                "lock",
                "L1",
                "state",
                make_envelope("device.birth", {"online": True, "session": "t"}, 2),
            )
        ]
    )
    assert ingest.sweep() == {"alarm_changes": 1}  # cleared
    with session_factory() as session:
        alarm = session.scalar(select(DeviceAlarm).where(DeviceAlarm.rule == "offline"))
        assert alarm.status == "cleared_unack" and alarm.severity == "major"

    # Acks: the first terminal ack wins; a later one (a replay refused) changes nothing.
    with session_scope(session_factory) as session:
        _command, _device, created = service.create_command(
            session, SYSTEM, "L1", "lock.lock", {}, "3f2b8d9e-4a1c-4e0f-9b7d-2c5e6f7a8b9c"
        )
        assert created
    ok = make_ack("3f2b8d9e-4a1c-4e0f-9b7d-2c5e6f7a8b9c", "ok", "locked", 5)
    again = make_ack("3f2b8d9e-4a1c-4e0f-9b7d-2c5e6f7a8b9c", "rejected", "replayed", 6)
    ingest.write([_inbound("BR9", "lock", "L1", "ack", ok)])
    ingest.write([_inbound("BR9", "lock", "L1", "ack", again)])
    assert acked == [("3f2b8d9e-4a1c-4e0f-9b7d-2c5e6f7a8b9c", "ok")]
    with session_factory() as session:
        row = session.scalar(select(DeviceCommand))
        assert row.status == "ok" and row.reason == "locked"


def test_uplink_handlers_see_each_new_message_once_and_cannot_break_the_batch(
    engine, session_factory, box, branch
):
    provision(session_factory, box, "K1", "kiosk")
    seen: list[tuple[str, str, str]] = []

    def handler(session, uplink, _now):
        seen.append((uplink.device_id, uplink.channel, uplink.type))
        if uplink.type == "kiosk.boom":
            raise RuntimeError("a bug in another area")

    routes = UplinkRoutes()
    routes.add("kiosk", {"event:*": handler})
    routes.add("lock", {"event:*": handler})  # another kind: not called
    ingest = IngestService(wired_factory(engine, ports={UplinkRoutes: routes}), RecordingEmitter())
    asked = make_envelope("kiosk.ticket_requested", {"service": "cash"}, 1)
    boom = make_envelope("kiosk.boom", {}, 2)
    items = [
        _inbound("BR9", "kiosk", "K1", "event", asked),
        _inbound("BR9", "kiosk", "K1", "event", boom),
    ]
    ingest.write(items)
    ingest.write(items[:1])  # a duplicate: no second call
    assert seen == [("K1", "event", "kiosk.ticket_requested"), ("K1", "event", "kiosk.boom")]
    assert ingest.stats["handler_errors"] == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DeviceMessage)) == 2


def test_only_a_devices_twin_report_moves_the_twin(session_factory, box, branch):
    """``config/reported``: a device's ``config.reported`` fills the twin's reported side. The
    edge's ``edge.registry_applied`` there carries the registry version (microseconds), which
    is no twin version and beyond the INTEGER column on PostgreSQL (the batch failed and the
    report was dead-lettered); it is stored and leaves the twin alone, like an out-of-range
    version from a device."""
    provision(session_factory, box, "L1", "lock")
    ingest = IngestService(session_factory, RecordingEmitter())
    applied = make_envelope(
        "edge.registry_applied", {"version": 1_795_907_802_510_312, "devices": 1}, 1
    )
    report = make_envelope("config.reported", {"version": 1, "config": {"a": 1}}, 1)
    huge = make_envelope("config.reported", {"version": 2**31, "config": {"a": 2}}, 2)
    ingest.write(
        [
            _inbound("BR9", "edge", "edge-br9", "config/reported", applied),
            _inbound("BR9", "lock", "L1", "config/reported", report),
            _inbound("BR9", "lock", "L1", "config/reported", huge),
        ]
    )
    assert ingest.stats["dead_letter"] == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DeviceMessage)) == 3
        edge = session.scalar(select(Device).where(Device.device_id == "edge-br9"))
        assert edge.reported_version == 0 and edge.reported == {}
        lock = session.scalar(select(Device).where(Device.device_id == "L1"))
        assert lock.reported_version == 1 and lock.reported["config"] == {"a": 1}


def test_screen_commands_are_not_audited_and_pruned_after_a_day(session_factory, box, branch):
    """A queue board or a call on a screen opens nothing: no audit record, row kept a day;
    every other command is audited and kept."""
    provision(session_factory, box, "D1", "display")
    provision(session_factory, box, "L1", "lock")
    now = utcnow()
    with session_scope(session_factory) as session:
        before = session.scalar(select(func.count()).select_from(AuditRecord))
        for n, (device, name) in enumerate(
            [("D1", "display.queue"), ("D1", "display.show"), ("L1", "lock.lock")]
        ):
            service.create_command(
                session, SYSTEM, device, name, {}, f"c{n}", now=now - timedelta(days=2)
            )
        service.create_command(session, SYSTEM, "D1", "display.queue", {}, "fresh", now=now)
        audited = session.scalars(
            select(AuditRecord.after).where(AuditRecord.action == "device.command")
        ).all()
        assert [a["name"] for a in audited] == ["lock.lock"]
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == before + 1
    with session_scope(session_factory) as session:
        assert service.prune_screen_commands(session, now) == 2
    with session_factory() as session:
        kept = session.scalars(select(DeviceCommand.command_id).order_by(DeviceCommand.id)).all()
        assert kept == ["c2", "fresh"]


def test_a_receipt_that_cannot_be_sent_is_one_warning_line(session_factory, box, branch, caplog):
    """Stopping, the hub's client may be gone: the receipt is not sent (the edge resends after
    its timeout) and the log says so in one line; an unexpected error keeps its traceback."""
    import logging

    from backend.platform.mqtt import MqttPublishError

    provision(session_factory, box, "L1", "lock")
    failures = iter([MqttPublishError("not connected"), RuntimeError("bug")])

    def refuse(_branch, _ids):
        raise next(failures)

    ingest = IngestService(session_factory, RecordingEmitter(), on_receipt=refuse)
    with caplog.at_level(logging.WARNING, logger="backend.roles.ingest"):
        for seq in (1, 2):
            env = make_envelope("lock.status", {"lock": "locked"}, seq)
            ingest.write([_inbound("BR9", "lock", "L1", "telemetry", env)])
    records = [r for r in caplog.records if r.name == "backend.roles.ingest"]
    assert [(r.getMessage(), r.exc_info is None) for r in records] == [
        ("receipt to BR9 not sent: not connected", True),
        ("receipt to BR9 failed", False),
    ]
