"""FinEdge in its production shape, as docker-compose.yml runs it but on this machine's
PostgreSQL and Redis and Mosquittos of the project's dynamic-security configs (TLS): two
``finedge web``, two ``finedge hub``, an active and a standby ``finedge scheduler``, branch
BR001's edge and its simulated devices, each its own process.

- a device command sent through either web instance reaches the device and is acked;
- a live event caused on one web instance reaches a Socket.IO client of the other;
- the hub holding the branch is killed mid-traffic: the other takes the branch, and every
  message the devices sent is stored exactly once (no gap in any device's sequence, no copy);
- the active scheduler is killed: the standby becomes active and runs the next job; no job's
  scheduled runs ever overlap or come closer than its interval.
"""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from collections import defaultdict

import pytest
import requests
import socketio
from sqlalchemy import create_engine, text

from backend.platform.mqtt import MqttClient, MqttConnectError
from tests.conftest import _pg_admin, _pg_reason, drop_pg_database, pg_url
from tests.iot_support import wait_for
from tests.production_support import BRANCH, FINEDGE, ProductionRig

pytestmark = pytest.mark.timeout(420)

SIMULATED = ["--counters", "2", "--cash", "1", "--locks", "1", "--kiosks", "1", "--callers", "1"]
SIMULATED += ["--displays", "1", "--cameras", "0"]
FAST_TELEMETRY_S = 1  # the devices' desired telemetry interval during the test: steady traffic


@pytest.fixture
def database():
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    name = f"finedge_prod_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    drop_pg_database(name)


def _api(rig: ProductionRig, web: str, token: str):
    def call(method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method,
            f"{rig.base(web)}/api/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            **kwargs,
        )

    return call


def _scheduler_state(rig: ProductionRig, name: str) -> str | None:
    body = rig.probe(name)
    return None if body is None else body.get("scheduler")


def test_two_webs_two_hubs_two_schedulers_an_edge_and_devices(database, tmp_path):
    rig = ProductionRig(tmp_path, database)
    engine = create_engine(database)
    try:
        rig.migrate_and_bootstrap("--services", "cash,account", "--counter", "1:Window 1:cash")
        rig.run(
            ["users", "add", "--username", "teller1", "--role", "teller", "--org", BRANCH],
            stdin=f"{rig.admin_password}\n",
        )
        # the roles: one scheduler first, so which one is active is known
        rig.start("scheduler-a", "scheduler")
        wait_for(lambda: _scheduler_state(rig, "scheduler-a") == "active", 90, "a leads")
        for name, service in (
            ("web-1", "web"),
            ("web-2", "web"),
            ("hub-1", "hub"),
            ("hub-2", "hub"),
            ("scheduler-b", "scheduler"),
            ("edge", "edge-br001"),
        ):
            rig.start(name, service)
        for name in ("web-1", "web-2", "hub-1", "hub-2", "scheduler-b"):
            rig.wait_ready(name)
        assert _scheduler_state(rig, "scheduler-b") == "standby"
        rig.start(
            "devices",
            "devices-br001",
            argv=[FINEDGE, "devices", "--branch", BRANCH, *SIMULATED],
        )
        admin1 = _api(rig, "web-1", rig.token("web-1"))
        admin2 = _api(rig, "web-2", rig.token("web-2"))
        # 0. every web instance (gunicorn, gevent) serves the screens and their assets
        for name in ("web-1", "web-2"):
            page = requests.get(f"{rig.base(name)}/console/login", timeout=30)
            assert page.status_code == 200, page.text[:300]
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            script = requests.get(f"{rig.base(name)}/web/static/js/finedge.js", timeout=30)
            assert script.status_code == 200 and "export async function api" in script.text

        def online() -> list[dict]:
            rig.alive("edge") and rig.alive("devices")
            items = admin1("GET", f"/devices?branch_id={BRANCH}&limit=50").json()["items"]
            return [d for d in items if d["online"]]

        wait_for(lambda: len(online()) >= 8, 120, "the edge and 7 simulated devices online")
        devices = {d["device_id"]: d for d in online()}
        counters = sorted(i for i, d in devices.items() if d["device_type"] == "counter")

        # 0. a device provisioned through the API logs in to the branch broker (TLS) at once,
        # its accounts kept by the edge from the registry the hubs publish; retired, refused
        made = admin2(
            "POST",
            "/devices",
            json={"branch_id": BRANCH, "device_type": "lock", "device_id": "BR001-LCK-99"},
        )
        assert made.status_code == 201, made.text
        login = rig.branch.url("BR001-LCK-99", made.json()["mqtt_password"], tls=True)
        wait_for(lambda: _accepted(login), 30, "the new device's login accepted")
        retired = admin1("PATCH", "/devices/BR001-LCK-99", json={"status": "retired"})
        assert retired.status_code == 200, retired.text
        wait_for(lambda: not _accepted(login), 30, "the retired device's login refused")

        # 1. a command through either web instance reaches the device and its ack comes back
        for call, counter in ((admin1, counters[0]), (admin2, counters[1])):
            answer = call(
                "POST", f"/devices/{counter}/commands", json={"name": "counter.print_test"}
            )
            assert answer.status_code == 201 and answer.json()["status"] == "ok", answer.text

        # 2. a live event caused on web-1 reaches a Socket.IO client of web-2
        received: list[dict] = []
        watcher = socketio.Client(reconnection=False)
        watcher.on("queue.update", received.append, namespace="/live")
        watcher.connect(
            rig.base("web-2"),
            namespaces=["/live"],
            auth={"token": rig.token("web-2")},
            transports=["websocket"],
        )
        try:
            teller = _api(rig, "web-1", rig.token("web-1", "teller1"))
            taken = teller("POST", f"/branches/{BRANCH}/tickets", json={"service": "cash"})
            assert taken.status_code == 201, taken.text
            wait_for(
                lambda: any(e.get("branch_id") == BRANCH for e in received),
                30,
                "web-1's queue.update on web-2's Socket.IO client",
            )
        finally:
            watcher.disconnect()

        # 3. steady traffic, then the hub holding the branch dies mid-traffic
        for device_id, device in devices.items():
            if device["device_type"] != "edge":
                patched = admin1(
                    "PATCH",
                    f"/devices/{device_id}/config",
                    json={"desired": {"telemetry_interval_s": FAST_TELEMETRY_S}},
                )
                assert patched.status_code == 200, patched.text

        def stored() -> int:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM device_messages")).scalar_one()

        before = stored()
        wait_for(lambda: stored() > before + 20, 60, "steady telemetry stored")
        owner = _lease_owner(engine)
        victim = "hub-1" if owner == _hub_id(rig, "hub-1") else "hub-2"
        survivor = "hub-2" if victim == "hub-1" else "hub-1"
        killed_at = time.monotonic()
        rig.kill(victim)
        wait_for(lambda: _lease_owner(engine) == _hub_id(rig, survivor), 30, "the branch moves")
        moved_s = time.monotonic() - killed_at
        after_kill = stored()
        wait_for(lambda: stored() > after_kill + 20, 60, "traffic stored through the survivor")
        print(f"the branch moved {moved_s:.1f}s after its hub was killed")

        # 4. the active scheduler dies; the standby runs the next job
        killed = time.time()
        rig.kill("scheduler-a")
        wait_for(lambda: _scheduler_state(rig, "scheduler-b") == "active", 45, "b takes over")

        def ran_after_kill() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM job_runs WHERE trigger = 'schedule' "
                            "AND name = 'branch.expire_unlocks' AND outcome = 'ok' "
                            "AND started_at > to_timestamp(:t) AT TIME ZONE 'UTC'"
                        ),
                        {"t": killed},
                    ).scalar_one()
                )

        wait_for(ran_after_kill, 60, "the standby runs branch.expire_unlocks")

        # quiet the devices so the outbox drains, then check exactly-once per device
        rig.kill("devices", signal.SIGTERM)
        wait_for(lambda: _edge_outbox_empty(rig), 60, "the edge's outbox drained")
        _assert_every_message_stored_once(engine)
        _assert_no_job_ran_twice(engine)
        for name in ("web-1", "web-2", survivor, "scheduler-b", "edge"):
            rig.alive(name)
    finally:
        engine.dispose()
        codes = rig.close()
    for name, code in codes.items():
        if name not in ("scheduler-a",) and not name.startswith("hub"):
            assert code == 0, f"{name} exited {code}:\n{rig.log_tail(name)}"


def _accepted(url: str) -> bool:
    client = MqttClient(url, f"t-{uuid.uuid4().hex[:8]}", reconnect_max_delay=0.5)
    try:
        client.connect(3)
        return True
    except MqttConnectError:
        return False
    finally:
        client.close()


def _hub_id(rig: ProductionRig, name: str) -> str:
    body = rig.probe(name) or {}
    return str(body.get("hub_id"))


def _lease_owner(engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT hub_id FROM hub_leases WHERE branch_id = :b"),
            {"b": BRANCH},
        ).scalar()


def _edge_outbox_empty(rig: ProductionRig) -> bool:
    """The edge's outbox (its SQLite store) holds nothing the centre has not receipted."""
    rig.alive("edge")
    (path,) = (rig.tmp_path / "var").rglob(f"edge-{BRANCH}.db")
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def _assert_every_message_stored_once(engine) -> None:
    """Each simulated device numbers its messages 1, 2, 3...: the stored ones must be that run
    with nothing missing (acks go to the commands, not here, so their numbers are the only
    gaps allowed) and nothing twice."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.device_id, m.seq, m.envelope_id FROM device_messages m "
                "JOIN devices d ON d.id = m.device_pk WHERE d.device_type <> 'edge'"
            )
        ).all()
        acks = conn.execute(
            text(
                "SELECT d.device_id, count(*) FROM device_commands c JOIN devices d "
                "ON d.id = c.device_pk WHERE c.status = 'ok' GROUP BY d.device_id"
            )
        ).all()
    by_device: dict[str, list[int]] = defaultdict(list)
    for device_id, seq, _id in rows:
        by_device[device_id].append(seq)
    assert len({r[2] for r in rows}) == len(rows)
    assert len(by_device) >= 7 and len(rows) > 60, (len(by_device), len(rows))
    acked = dict(acks)
    for device_id, seqs in by_device.items():
        assert len(seqs) == len(set(seqs)), f"{device_id}: a message stored twice"
        missing = set(range(min(seqs), max(seqs) + 1)) - set(seqs)
        assert len(missing) <= acked.get(device_id, 0), (device_id, sorted(missing)[:20])


def _assert_no_job_ran_twice(engine) -> None:
    """Scheduled runs of one job never overlap, and an interval job's runs are at least its
    interval apart, across both schedulers and the takeover."""
    from backend.bootstrap import collect_areas, job_registry

    every = {name: spec.every_s for name, spec in job_registry(collect_areas()).jobs.items()}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, started_at, finished_at FROM job_runs "
                "WHERE trigger = 'schedule' AND outcome <> 'skipped' ORDER BY name, started_at"
            )
        ).all()
    assert rows
    last: dict[str, tuple] = {}
    for name, started, finished in rows:
        if name in last:
            previous_start, previous_end = last[name]
            assert previous_end is not None and started >= previous_end, (name, started)
            if every.get(name):
                gap = (started - previous_start).total_seconds()
                assert gap >= every[name] - 1, (name, previous_start, started)
        last[name] = (started, finished)
