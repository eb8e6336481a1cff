"""The production web server (backend/roles/web_server.py) as an operator runs it: in
FINEDGE_ENV=production with FINEDGE_SECRET_KEY, on this machine's PostgreSQL and Redis.

``finedge web`` becomes ``python -m backend.web_entry web`` (gevent, one process); each test
starts its instances on free ports against one seeded database of this module, and stops them
with SIGTERM. No timing is asserted: only that what must be answered is answered."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import socketio

from bench.socketio_clients import Holder
from bench.web_instance import WebInstance, bench_database, production_environment
from tests.conftest import PG_ADMIN_URL, _pg_reason, port_open
from tests.iot_support import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FINEDGE = str(Path(sys.executable).with_name("finedge"))
REDIS = ("127.0.0.1", 6379)
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def database():
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    if not port_open(*REDIS):
        pytest.skip(f"Redis not reachable on {REDIS[0]}:{REDIS[1]}")
    with bench_database(PG_ADMIN_URL) as url:
        yield url


def _instance(database: str, **kwargs) -> WebInstance:
    return WebInstance(database, REDIS_URL, time.monotonic() + 120, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _live_client(
    base: str, token: str, transport: str = "websocket"
) -> tuple[socketio.Client, list]:
    received: list = []
    client = socketio.Client(reconnection=False)
    client.on("queue.update", lambda data: received.append(data), namespace="/live")
    client.connect(base, namespaces=["/live"], auth={"token": token}, transports=[transport])
    return client, received


def test_web_instance_answers_health_and_authenticated_requests(database):
    with _instance(database) as web:
        assert "FinEdge production backend (web)" in web.output()
        assert web.get("/api/v1/health").json() == {"status": "ok"}
        devices = web.get("/api/v1/devices?branch_id=BR001", "admin")
        assert devices.status_code == 200
        assert "BR001-CNT-01" in {d["device_id"] for d in devices.json()["items"]}
        anonymous = web.get("/api/v1/devices?branch_id=BR001")
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"]
        for transport in ("websocket", "polling"):  # Socket.IO: JWT checked on connect
            client, _ = _live_client(web.base, web.token("teller1"), transport)
            assert client.connected
            client.disconnect()
            with pytest.raises(socketio.exceptions.ConnectionError):
                _live_client(web.base, "x.y.z", transport)
        assert web.stop() == 0
    assert web.lines[-1] == "stopped"


def test_holds_more_websockets_than_the_old_threads_and_still_answers_http(database):
    clients = 200  # a gthread instance held 50; the 51st blocked all HTTP
    with _instance(database) as web:
        holder = Holder(web.base, [web.token("admin")], clients, concurrency=50).start()
        try:
            state = holder.wait_connected(time.monotonic() + 120)
            assert state["connected"] == clients, state
            assert web.get("/api/v1/health").status_code == 200
            assert web.get("/api/v1/devices?branch_id=BR001", "teller1").status_code == 200
            # and every one of them is live: an event to their room reaches all of them
            web.emitter().send("queue.update", {"bench_mark": "all-200"}, rooms=["role:admin"])
            report = holder.report("all-200", clients, time.monotonic() + 60)
            assert report["received"] == clients, report
        finally:
            holder.stop()
        assert web.get("/api/v1/health").status_code == 200


def test_two_instances_share_live_events_through_redis(database):
    with _instance(database) as one, _instance(database) as other:
        assert one.base != other.base
        watcher, on_other = _live_client(other.base, other.token("admin"))
        local, on_one = _live_client(one.base, one.token("admin"))
        try:
            taken = one.post("/api/v1/branches/BR001/tickets", "client1", json={"service": "cash"})
            assert taken.status_code == 201, taken.text
            # caused on the first instance, seen by a client of the second (and of the first)
            wait_for(lambda: on_other and on_one, timeout=30, what="queue.update on both")
            assert on_other[-1]["branch_id"] == "BR001"
            # and the other way round, from a process with no server (as the hub emits)
            other.emitter().send("queue.update", {"branch_id": "hub"}, rooms=["role:admin"])
            wait_for(
                lambda: {"branch_id": "hub"} in on_one and {"branch_id": "hub"} in on_other,
                timeout=30,
                what="the hub's event on both instances",
            )
        finally:
            watcher.disconnect()
            local.disconnect()


def test_run_web_replaces_the_calling_process(database):
    """What ``finedge web`` calls: the process becomes the production server (same pid)."""
    code = (
        "from backend.platform.config import Config\n"
        "from backend.roles.web_server import run_web\n"
        "run_web(Config.from_env(), host='127.0.0.1', port=0, access_log=False)\n"
    )
    with _instance(database, command=[sys.executable, "-c", code]) as web:
        assert web.get("/api/v1/health").status_code == 200
        assert "FinEdge production backend (web)" in web.output()
        assert web.stop() == 0


def test_serve_in_production_runs_every_role_under_the_production_server(database, tmp_path):
    mqtt_port = _free_port()
    command = [FINEDGE, "serve", "--port", "0", "--mqtt-port", str(mqtt_port)]
    with _instance(database, command=command, env={"FINEDGE_VAR_DIR": str(tmp_path)}) as web:
        assert "FinEdge production backend (all)" in web.output()
        assert f"embedded MQTT broker listening on 127.0.0.1:{mqtt_port}" in web.output()
        assert web.get("/api/v1/devices?branch_id=BR001", "admin").status_code == 200
        assert web.stop() == 0
    assert "Werkzeug" not in "\n".join(web.lines)
    assert web.lines[-1] == "stopped"


def test_serve_in_production_starts_nothing_when_its_port_is_taken(database, tmp_path):
    mqtt_port = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = production_environment(database, REDIS_URL, FINEDGE_VAR_DIR=str(tmp_path))
        result = subprocess.run(
            [FINEDGE, "serve", "--port", str(port), "--mqtt-port", str(mqtt_port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "in use by another program" in output, output
    assert output.count("\n") == 1, output  # one line, no traceback
    assert "MQTT broker listening" not in output and "Serving" not in output


def test_the_production_server_refuses_sqlite(tmp_path):
    env = production_environment(f"sqlite:///{tmp_path}/x.db", None, FINEDGE_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [FINEDGE, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "needs PostgreSQL" in result.stderr and "Traceback" not in result.stderr
