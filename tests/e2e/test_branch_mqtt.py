"""The whole cash-loading scenario over MQTT with the simulators (devices -> branch edge ->
central broker -> ingest -> hall -> signed commands back), and the negative cases that live on
the wire: an expired and a replayed unlock command are refused by the lock itself, the used
code opens nothing, and the safe door opened without a task raises a critical alarm.

The loaders are enrolled as on a real finger-vein lock: they consent, a teller asks the lock
(``lock.enroll``), each presents a finger three times at the lock, which keeps the template;
nothing of it reaches the centre (audit log, device commands, stored messages).

Runs on SQLite with the embedded amqtt brokers and on the machine's PostgreSQL and Mosquitto
(``hall_stack``; skipped with the reason where they are absent)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backend.branch.cash import booking
from backend.branch.models import CashTask
from backend.devices.commands import signed_command_payload
from backend.devices.models import DeviceAlarm, DeviceCommand, DeviceMessage
from backend.identity import service as identity
from backend.identity.models import Org, User
from backend.platform.audit import AuditRecord
from backend.platform.context import SYSTEM
from backend.platform.db import session_scope
from backend.platform.mqtt import MqttClient
from edge.credentials import secret_bytes
from edge.protocol import SEALED, build_topic, code_mac
from tests.integration import test_branch_support as support
from tests.integration.test_branch_support import Api, HallStack
from tests.iot_support import add_branch, hall_brokers, iot_rig, unique_branch, wait_for
from tests.leak_scan import found_in, table_texts

branch_seeded_db = support.branch_seeded_db  # fixture
hall_url = support.hall_url  # fixture
hall_stack = support.hall_stack  # fixture: sqlite-amqtt, postgres-mosquitto


pytestmark = pytest.mark.timeout(150)


def _people(app, branch: str) -> dict[str, int]:
    with session_scope(app.extensions["finedge"].session_factory) as session:
        org = session.scalar(select(Org).where(Org.code == "BR001"))
        ids = {}
        for name, role in (
            ("maker", "teller"),
            ("checker", "teller"),
            ("la", "loader"),
            ("lb", "loader"),
        ):
            username = f"{name}-{branch.lower()}"
            user = identity.create_user(
                session,
                SYSTEM,
                username=username,
                password=f"{username}-demo",
                role=role,
                org=org,
                branch_id=branch,
            )
            ids[name] = user.id
        booking.fund_vault(session, SYSTEM, branch, "500000.00", f"fund:{branch}")
    return ids


def _code_traces(ref: str, code: str, wire_mac: str) -> tuple[re.Pattern, list[str]]:
    """The code itself (six digits not part of a longer token, e.g. a timestamp's fraction)
    and what could be derived from it: the wire's HMAC and plain digests of it."""
    digests = [wire_mac]
    for text in (code, f"{ref}:{code}"):
        for algo in ("sha256", "sha1", "md5", "sha512"):
            digests.append(hashlib.new(algo, text.encode()).hexdigest())
    return re.compile(rf"(?<![0-9A-Za-z.\-_]){code}(?![0-9A-Za-z.\-_])"), digests


def _assert_no_code_kept(ext, api, names, lock_id, traces) -> None:
    """No table (audit log, the command's row, device messages, any other), the command's
    view over HTTP to branch staff, or the log holds the code or anything derived from it.
    Only ``cash_tasks.code_ciphertext`` (the loaders' view, encrypted) may while armed."""
    bare, digests = traces
    with ext.session_factory() as session:
        texts = table_texts(session)
        arm = session.scalars(
            select(DeviceCommand)
            .where(DeviceCommand.name == "lock.arm")
            .order_by(DeviceCommand.id.desc())
        ).first()
    assert found_in(texts, digests) == []
    assert [t for t, rows in texts.items() for r in rows if bare.search(r)] == []
    assert arm.args["code_mac"] == SEALED
    audit = [r for r in texts["audit_records"] if arm.command_id in r]
    assert audit and all(SEALED in r for r in audit)
    for who in (names["maker"], "admin"):
        answer = api.get(who, f"/devices/{lock_id}/commands/{arm.command_id}")
        if answer.status_code == 200:
            assert answer.get_json()["args"]["code_mac"] == SEALED
        body = answer.get_data(as_text=True)
        assert not bare.search(body) and not any(d in body for d in digests)


def test_cash_loading_over_mqtt(make_app, hall_stack: HallStack, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    app = make_app(hall_stack.database_url, seeded=False)
    api = Api(app)
    branch = unique_branch()
    identities = add_branch(app, branch, {"lock": 1, "cash": 1}, tmp_path / "creds.json")
    ids = _people(app, branch)
    lock_id = next(i.device_id for i in identities if i.device_type == "lock")
    atm_id = next(i.device_id for i in identities if i.device_type == "cash")
    lock_secret = secret_bytes(next(i for i in identities if i.device_id == lock_id).hmac_secret)
    names = {k: f"{k}-{branch.lower()}" for k in ids}
    ext = app.extensions["finedge"]

    def task_row(task_id: int) -> CashTask:
        with ext.session_factory() as session:
            return session.get(CashTask, task_id)

    with ExitStack() as stack:
        central, branch_url = stack.enter_context(
            hall_brokers(hall_stack.brokers, app, tmp_path, branch)
        )
        rig = stack.enter_context(iot_rig(app, central, tmp_path, branch))
        rig.branch_url = branch_url
        hub = rig.start_hub()
        rig.start_edge()
        rig.start_fleet(identities)
        rig.wait_live()
        lock, atm = rig.device(lock_id), rig.device(atm_id)
        wait_for(
            lambda: (
                rig.device_row(lock_id).online
                and rig.device_row(atm_id).online
                and rig.device_row(atm_id).state.get("safe_door") == "closed"
            ),
            15,
            "births",
        )
        spy = MqttClient(central.backend_url, f"spy-{uuid.uuid4().hex[:6]}")
        captured: list[bytes] = []
        spy.subscribe(
            build_topic(branch, "lock", lock_id, "cmd"), lambda m: captured.append(m.payload)
        )
        spy.connect(10)
        stack.callback(spy.close)
        # enrolment at the lock: consent, the teller's request, three captures each
        enrolments = f"/locks/{lock_id}/enrolments"

        def statuses() -> dict[str, str]:
            items = api.ok(api.get(names["maker"], enrolments))["items"]
            return {i["username"]: i["status"] for i in items}

        for loader in ("la", "lb"):
            api.ok(api.post(names[loader], "/vein/consent", {"text_version": "vein-v1"}))
            started = api.ok(api.post(names["maker"], enrolments, {"loader_id": ids[loader]}), 202)
            assert started["status"] == "capturing"
            wait_for(lambda n=names[loader]: n in lock.captures, 20, "capture session")
            for _ in range(3):
                assert lock.present_finger(names[loader])
            wait_for(
                lambda n=names[loader]: statuses().get(n) == "enrolled", 20, "enrolled at centre"
            )
        templates = {name: t.hex() for name, t in lock.templates.items()}
        assert sorted(templates) == sorted(names[k] for k in ("la", "lb"))

        now = datetime.now(UTC)
        task = api.ok(
            api.post(
                names["maker"],
                "/cash-tasks",
                {
                    "device_id": atm_id,
                    "loaders": [ids["la"], ids["lb"]],
                    "window_start": (now - timedelta(minutes=1)).isoformat(),
                    "window_end": (now + timedelta(hours=1)).isoformat(),
                    "amounts": {"100.00": "20000.00"},
                },
            ),
            201,
        )
        assert task["lock_id"] == lock_id
        api.ok(api.post(names["checker"], f"/cash-tasks/{task['id']}/approve"))

        # both loaders verify: the centre checks and sends the signed one-time unlock
        assert lock.present_finger(names["la"]) and lock.present_finger(names["lb"])
        wait_for(lambda: lock.state["armed"] is not None, 20, "lock armed by the centre")
        code = api.ok(api.get(names["la"], f"/cash-tasks/{task['id']}"))["unlock_code"]
        assert "unlock_code" not in api.ok(api.get(names["maker"], f"/cash-tasks/{task['id']}"))
        # the sniffer hears the command on its own connection, maybe after the lock acted on it
        wait_for(lambda: any(b'"lock.arm"' in p for p in captured), 20, "lock.arm on the wire")
        arm_payload = next(p for p in captured if b'"lock.arm"' in p)
        arm = json.loads(arm_payload)
        # on the wire, the code is sealed for this lock; nothing derived from it is kept
        assert arm["data"]["code_mac"] == code_mac(lock_secret, task["ref"], code)
        assert "code_sha256" not in arm["data"]
        traces = _code_traces(task["ref"], code, arm["data"]["code_mac"])
        _assert_no_code_kept(ext, api, names, lock_id, traces)

        # on the wire: a replayed and an expired unlock are refused by the lock
        spy.publish(build_topic(branch, "lock", lock_id, "cmd"), arm_payload, timeout=5)
        stale, _ = signed_command_payload(
            str(uuid.uuid4()),
            "lock.arm",
            {
                "task_id": task["ref"],
                "loaders": [names["la"], names["lb"]],
                "code_mac": "0" * 64,
                "valid_for_s": 120,
            },
            1,
            lock_secret,
            now=datetime.now(UTC) - timedelta(seconds=200),
            ttl_s=120,
        )
        spy.publish(build_topic(branch, "lock", lock_id, "cmd"), stale, timeout=5)
        wait_for(
            lambda: (
                {a.reason for a in lock.acks if a.status == "rejected"} >= {"replayed", "expired"}
            ),
            15,
            "replayed and expired unlocks refused",
        )

        # at the lock: both veins again and the code: a wrong one is refused, the right one
        # opens it, the machine enters exchange
        lock.present_finger(names["la"])
        lock.present_finger(names["lb"])
        assert not lock.enter_code(f"{(int(code) + 1) % 10**6:06d}")
        assert lock.state["lock"] == "locked"
        assert lock.enter_code(code)
        wait_for(lambda: task_row(task["id"]).status == "unlocked", 20, "task unlocked")
        wait_for(lambda: atm.state["mode"] == "exchange", 20, "exchange mode")
        atm.open_safe_door()
        view, _ = hub.commands.send(
            SYSTEM, atm_id, "cash.replenish", {"unit": "C1", "count": 1500 + 200}, wait_s=5
        )
        assert view["status"] == "ok", view
        view, _ = hub.commands.send(SYSTEM, atm_id, "cash.exit_exchange", {}, wait_s=5)
        assert view["status"] == "ok", view
        wait_for(lambda: task_row(task["id"]).status == "loaded", 20, "counts reconciled")
        with ext.session_factory() as session:
            assert booking.machine_balance(session, branch, atm_id) == Decimal("20000.00")
        atm.close_safe_door()
        wait_for(lambda: task_row(task["id"]).status == "closed", 20, "task closed")
        wait_for(lambda: lock.state["lock"] == "locked", 20, "lock relocked by the centre")

        # the used code opens nothing
        lock.present_finger(names["la"])
        lock.present_finger(names["lb"])
        assert not lock.enter_code(code)
        time.sleep(0.5)
        assert lock.state["lock"] == "locked"

        # no open task: the safe door opening is a critical alarm
        atm.open_safe_door()

        def door_alarm():
            with ext.session_factory() as session:
                return session.scalar(
                    select(DeviceAlarm).where(
                        DeviceAlarm.branch_id == branch,
                        DeviceAlarm.rule == "safe_door_open_without_task",
                        DeviceAlarm.active.is_(True),
                    )
                )

        wait_for(door_alarm, 20, "safe door alarm")
        assert door_alarm().severity == "critical"
        with ext.session_factory() as session:
            raised = session.scalars(
                select(DeviceAlarm.rule).where(DeviceAlarm.branch_id == branch)
            ).all()
            assert "lock_opened_without_valid_unlock" not in raised
            assert "cash_count_mismatch" not in raised
            loader = session.scalar(select(User).where(User.id == ids["la"]))
            assert loader.branch_id == branch

        _assert_no_code_kept(ext, api, names, lock_id, traces)
        assert not traces[0].search(caplog.text) and not any(d in caplog.text for d in traces[1])

        # a teller removes one loader: the lock deletes the template and confirms
        removed = api.ok(api.send("DELETE", names["maker"], f"{enrolments}/{ids['la']}"), 202)
        assert removed["status"] == "revoking"
        wait_for(lambda: names["la"] not in statuses(), 20, "revocation confirmed")
        assert names["la"] not in lock.templates and names["lb"] in lock.templates

        # nothing of a vein ever reached the centre's tables
        with ext.session_factory() as session:
            stored = [json.dumps([a.before, a.after]) for a in session.scalars(select(AuditRecord))]
            stored += [json.dumps(c.args) for c in session.scalars(select(DeviceCommand))]
            stored += [json.dumps(m.data) for m in session.scalars(select(DeviceMessage))]
            enroll = session.scalars(
                select(DeviceCommand.args).where(DeviceCommand.name == "lock.enroll")
            ).all()
        assert enroll and all(
            set(args) == {"loader_id", "captures", "valid_for_s"} for args in enroll
        )
        for text in stored:
            assert '"template' not in text
            assert not any(t in text for t in templates.values())
