"""The simulators as state machines, without a broker: commands are fed to the device's MQTT
handler and what it would publish is read from its local buffer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backend.platform.mqtt import Message
from devices.base import CommandFailed
from devices.camera import base_encoding
from devices.faults import Faults
from devices.fleet import make_device, select
from devices.identity import DeviceIdentity
from devices.simulators import SIMULATORS
from edge.credentials import derive_edge_key, new_hmac_secret, secret_bytes
from edge.protocol import code_mac, decode_envelope, encode, make_command, make_envelope

URL = "mqtt://127.0.0.1:1"


def build(device_type: str, device_id: str = "D1", **kwargs):
    identity = DeviceIdentity("BR1", device_type, device_id, device_id, "pw", new_hmac_secret())
    return make_device(identity, URL, **kwargs), secret_bytes(identity.hmac_secret)


def outgoing(device) -> list:
    return [
        (
            item.topic.rsplit("/", 1)[-1] if "config" not in item.topic else "config/reported",
            decode_envelope(item.payload(60), max_skew_s=None),
        )
        for item in device._pending
        if item.envelope is not None
    ]


def command(device, secret: bytes, name: str, args: dict | None = None, **kwargs) -> str:
    env = make_command(name, args or {}, 1, secret, **kwargs)
    device._on_command(Message(device.topic("cmd"), encode(env), 1, False))
    return env.id


def ack_of(device, command_id: str):
    return next(a for a in device.acks if a.command_id == command_id)


def test_every_kind_has_a_simulator():
    assert set(SIMULATORS) == {"counter", "cash", "lock", "kiosk", "caller", "display", "camera"}
    ids = [
        DeviceIdentity("B", t, f"{t}{n}", "u", "p", "00") for t in ("lock", "cash") for n in (1, 2)
    ]
    assert [i.device_id for i in select(ids, "B", {"lock": 1, "cash": None})] == [
        "lock1",
        "cash1",
        "cash2",
    ]


def enrol_args(loader: str, captures: int = 3, valid_for_s: int = 120) -> dict:
    return {"loader_id": loader, "captures": captures, "valid_for_s": valid_for_s}


def enrol(lock, secret: bytes, loader: str) -> None:
    """What enrolment is now: the centre opens a capture session, the loader presents the
    finger three times, the lock keeps the template."""
    assert ack_of(lock, command(lock, secret, "lock.enroll", enrol_args(loader))).status == "ok"
    for _ in range(3):
        assert lock.present_finger(loader)
    assert loader in lock.templates


def test_commands_are_verified_before_anything_acts():
    lock, secret = build("lock")
    ok = command(lock, secret, "lock.enroll", enrol_args("a"))
    assert ack_of(lock, ok).status == "ok" and sorted(lock.captures) == ["a"]

    forged = command(lock, b"wrong key", "lock.enroll", enrol_args("x"))
    expired = command(
        lock,
        secret,
        "lock.enroll",
        enrol_args("y"),
        now=datetime.now(UTC) - timedelta(hours=1),
        ttl_s=60,
    )
    replay = make_command("lock.enroll", enrol_args("z"), 2, secret)
    for _ in range(2):
        lock._on_command(Message(lock.topic("cmd"), encode(replay), 1, False))
    unknown = command(lock, secret, "lock.fly")
    assert ack_of(lock, forged).reason == "bad_signature"
    assert ack_of(lock, expired).reason == "expired"
    assert [a.status for a in lock.acks if a.command_id == replay.id] == ["ok", "rejected"]
    assert [a.reason for a in lock.acks if a.command_id == replay.id][1] == "replayed"
    assert ack_of(lock, unknown).reason == "unknown_command"
    assert sorted(lock.captures) == ["a", "z"] and lock.templates == {}

    # The edge's derived key is accepted only for the edge's own command types.
    edge_key = derive_edge_key(secret)
    refused = command(lock, edge_key, "lock.enroll", enrol_args("e"))
    rebirth = command(lock, edge_key, "device.rebirth", {})
    assert ack_of(lock, refused).reason == "bad_signature"
    assert ack_of(lock, rebirth).status == "ok"
    assert any(env.type == "device.birth" for _ch, env in outgoing(lock))

    unsigned = make_envelope("lock.lock", {}, 5)
    lock._on_command(Message(lock.topic("cmd"), encode(unsigned), 1, False))
    assert ack_of(lock, unsigned.id).reason == "bad_signature"
    lock._on_command(Message(lock.topic("cmd"), b"\x00garbage", 1, False))  # no id: no ack


def test_the_lock_refuses_an_unlock_whose_signature_differs_in_its_last_character():
    lock, secret = build("lock")
    for loader in ("l1", "l2"):
        enrol(lock, secret, loader)
    args = {"task_id": "T1", "loaders": ["l1", "l2"], "code_mac": code_mac(secret, "T1", "4711")}
    env = make_command("lock.arm", args, 1, secret).to_dict()
    env["sig"] = env["sig"][:-1] + ("0" if env["sig"][-1] != "0" else "1")
    lock._on_command(Message(lock.topic("cmd"), encode(env), 1, False))
    refused = ack_of(lock, env["id"])
    assert (refused.status, refused.reason) == ("rejected", "bad_signature")
    assert lock.state["armed"] is None


def test_vein_lock_needs_two_enrolled_loaders_and_the_code():
    lock, secret = build("lock")
    for loader in ("l1", "l2", "l3"):
        enrol(lock, secret, loader)
    args = {"task_id": "T1", "loaders": ["l1", "l2"], "code_mac": code_mac(secret, "T1", "4711")}
    # a plain digest of the code (what any reader could brute-force) arms nothing
    plain = {**args, "code_mac": code_mac(b"not this lock's secret", "T1", "4711")}
    assert ack_of(lock, command(lock, secret, "lock.arm", plain)).status == "ok"
    lock.present_finger("l1")
    lock.present_finger("l2")
    assert not lock.enter_code("4711")  # sealed with another key: never opens
    assert lock.state["lock"] == "locked"
    assert ack_of(lock, command(lock, secret, "lock.arm", args)).status == "ok"
    bad = command(lock, secret, "lock.arm", {**args, "loaders": ["l1", "l1"]})
    assert ack_of(lock, bad).status == "rejected"

    assert not lock.present_finger("l1", genuine=False)  # an impostor
    lock.present_finger("l3")  # enrolled but not on this task
    lock.present_finger("l1")
    assert not lock.enter_code("0000")
    assert lock.state["lock"] == "locked"
    assert lock.enter_code("4711")
    assert lock.state["lock"] == "locked"  # one loader is not enough
    lock.present_finger("l2")
    assert lock.state["lock"] == "unlocked"
    unlocked = [env for _c, env in outgoing(lock) if env.type == "lock.unlocked"]
    assert unlocked[0].data == {"task_id": "T1", "loaders": ["l1", "l2"]}
    lock.relock()
    lock.tamper()
    assert ack_of(lock, command(lock, secret, "lock.arm", args)).reason == "tampered"
    command(lock, secret, "lock.reset_tamper")
    assert lock.state["tamper"] is False


def test_vein_lock_captures_the_template_itself_and_never_sends_it():
    lock, secret = build("lock")
    carrying = command(lock, secret, "lock.enroll", {**enrol_args("l1"), "template": "t"})
    assert ack_of(lock, carrying).status == "rejected"
    assert ack_of(lock, carrying).reason == "templates are captured at the lock"
    for bad in ({"loader_id": ""}, {**enrol_args("l1"), "captures": 0}, {"valid_for_s": 5}):
        assert ack_of(lock, command(lock, secret, "lock.enroll", bad)).status == "rejected"
    assert lock.captures == {} and lock.templates == {}

    # outside a session a finger is a verification, and a stranger does not match
    assert not lock.present_finger("l1")
    command(lock, secret, "lock.enroll", enrol_args("l1"))
    assert lock.present_finger("l1") and lock.present_finger("l1")
    assert "l1" not in lock.templates  # two of three captures
    assert lock.present_finger("l2") is False  # another loader's finger is no capture
    assert lock.present_finger("l1")
    template = lock.templates["l1"]
    assert isinstance(template, bytes) and len(template) >= 32
    assert lock.captures == {} and lock.state["enrolled"] == ["l1"]
    events = [(env.type, env.data) for _c, env in outgoing(lock) if _c == "event"]
    assert [e for e in events if e[0] in ("lock.capture", "lock.enrolled")] == [
        ("lock.capture", {"loader_id": "l1", "n": 1}),
        ("lock.capture", {"loader_id": "l1", "n": 2}),
        ("lock.capture", {"loader_id": "l1", "n": 3}),
        ("lock.enrolled", {"loader_id": "l1"}),
    ]
    # the template is in no message the lock ever sent (events, state, acks)
    wire = b"".join(item.payload(60) for item in lock._pending)
    assert template not in wire and template.hex().encode() not in wire
    assert b'"template"' not in wire
    # now the same finger verifies
    assert lock.present_finger("l1")
    assert [e for _c, e in outgoing(lock)][-1].data["matched"] is True

    revoked = command(lock, secret, "lock.revoke", {"loader_id": "l1"})
    assert ack_of(lock, revoked).status == "ok" and lock.templates == {}
    assert [env for _c, env in outgoing(lock) if env.type == "lock.revoked"][-1].data == {
        "loader_id": "l1"
    }
    assert lock.state["enrolled"] == [] and not lock.present_finger("l1")


def test_vein_capture_session_times_out_and_revoke_cancels_it():
    import time

    lock, secret = build("lock")
    command(lock, secret, "lock.enroll", enrol_args("l1", valid_for_s=30))
    lock.present_finger("l1")
    lock.tick(time.monotonic() + 31)  # the lock's own timer
    failed = [env.data for _c, env in outgoing(lock) if env.type == "lock.enrol_failed"]
    assert failed == [{"loader_id": "l1", "reason": "timeout"}]
    assert lock.captures == {} and lock.templates == {}
    assert not lock.present_finger("l1")  # a verification again, not a capture

    command(lock, secret, "lock.enroll", enrol_args("l2"))
    lock.present_finger("l2")
    command(lock, secret, "lock.revoke", {"loader_id": "l2"})
    assert lock.captures == {}
    lock.present_finger("l2")
    lock.present_finger("l2")
    assert "l2" not in lock.templates
    assert not [env for _c, env in outgoing(lock) if env.type == "lock.enrolled"]


def test_cash_recycler_units_dispense_and_exchange_mode():
    cash, secret = build("cash")
    notes = cash.dispense(Decimal("1270"))
    assert notes == {"100.00": 12, "50.00": 1, "20.00": 1}
    with pytest.raises(CommandFailed):
        cash.dispense(Decimal("5"))
    refused = command(cash, secret, "cash.replenish", {"unit": "C3", "count": 10})
    assert ack_of(cash, refused).reason == "not_in_exchange_mode"
    command(cash, secret, "cash.enter_exchange", {"task_id": "T9"})
    assert (
        ack_of(cash, command(cash, secret, "cash.replenish", {"unit": "C3", "count": 5})).status
        == "ok"
    )
    events = [env for _c, env in outgoing(cash) if env.type == "cash.unit_status"]
    assert events[-1].data == {"unit": "C3", "status": "low", "count": 5}
    replenished = [env for _c, env in outgoing(cash) if env.type == "cash.replenished"][-1]
    assert replenished.data["task_id"] == "T9" and replenished.data["denomination"] == "50.00"
    with pytest.raises(CommandFailed):
        cash.dispense(Decimal("100"))  # out of service during the exchange
    command(cash, secret, "cash.exit_exchange")
    cash.open_safe_door()
    assert [env.type for _c, env in outgoing(cash)][-2:] == ["cash.safe_door_opened", "cash.state"]


def test_desired_config_is_applied_once_per_version_and_reported():
    counter, _secret = build("counter")
    desired = make_envelope(
        "config.desired", {"version": 2, "config": {"idle_timeout_s": 30, "services": ["nope"]}}, 2
    )
    message = Message(counter.topic("config/desired"), encode(desired), 1, True)
    counter._on_desired(message)
    counter._on_desired(message)  # a retained copy again
    reports = [env for ch, env in outgoing(counter) if ch == "config/reported"]
    assert len(reports) == 1
    assert reports[0].data["version"] == 2 and reports[0].data["config"]["idle_timeout_s"] == 30
    assert "services" in reports[0].data["rejected"]


def test_faults_duplicate_gap_garbage_and_skew():
    device, _secret = build("counter", faults=Faults.parse("dup=1,gap=1,garbage=1,skew=600"))
    env = device.publish("telemetry", "counter.stats", {})
    raw = [item for item in device._pending if item.envelope is None]
    copies = [item for item in device._pending if item.envelope is not None]
    assert len(raw) == 1 and len(copies) == 2 and copies[0].envelope == copies[1].envelope
    assert env.seq == 2  # one number skipped
    assert (env.timestamp - datetime.now(UTC)).total_seconds() > 500
    with pytest.raises(ValueError):
        Faults.parse("bogus=1")


def test_camera_encodings_are_stable_per_person():
    camera, _secret = build("camera")
    camera.person_enters("client7", quality=0.9)
    camera.person_enters("client7", quality=0.9)
    camera.person_enters(None, quality=0.2)  # too blurred: counted, no encoding
    events = [env for _c, env in outgoing(camera)]
    a, b = (e.data["encoding"] for e in events[:2])
    distance = sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5
    other = sum((x - y) ** 2 for x, y in zip(a, base_encoding("client8"), strict=True)) ** 0.5
    assert len(a) == 128 and distance < 0.6 < other
    assert events[2].type == "camera.person" and "encoding" not in events[2].data


def test_fast_envelopes_are_valid_and_bad_types_still_refused():
    from datetime import UTC, datetime

    from devices.outgoing import new_envelope
    from edge.protocol import ProtocolError, decode_envelope, encode

    now = datetime.now(UTC)
    for seq in (1, 2):  # the first call validates the type, the second takes the fast path
        env = new_envelope("counter.stats", {"n": seq}, seq, now)
        assert decode_envelope(encode(env), max_skew_s=None) == env
    with pytest.raises(ProtocolError):
        new_envelope("Not A Type", {}, 1, now)
    with pytest.raises(ProtocolError):
        new_envelope("Not A Type", {}, 2, now)
