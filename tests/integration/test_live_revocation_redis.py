"""Revoked users' sockets across web instances: two web apps share the database and the Redis
message queue (as two ``finedge web`` do), each served over real HTTP; Socket.IO clients of two
users are connected to instance B. A user disabled through instance A's admin API, or demoted
by ``finedge users set-role`` in a third process, loses their sockets on B at once; the other
user's stay connected and keep receiving."""

import threading

import pytest
import socketio
from click.testing import CliRunner
from werkzeug.serving import make_server

from backend.cli import main
from backend.platform.live import rooms_for
from tests.conftest import login, port_open
from tests.iot_support import wait_for

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def instances(make_app, sqlite_url):
    if not port_open("127.0.0.1", 6379):
        pytest.skip("Redis not reachable on 127.0.0.1:6379")
    a = make_app(sqlite_url, redis_url=REDIS_URL)
    b = make_app(sqlite_url, seeded=False, redis_url=REDIS_URL)
    servers = []
    for app in (a, b):
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield a, b, f"http://127.0.0.1:{servers[1].server_port}"
    for server in servers:
        server.shutdown()
        server.server_close()


class LiveClient:
    """A Socket.IO client of ``/live`` that records what it receives."""

    def __init__(self, url: str, token: str):
        self.events: list[tuple[str, dict]] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace="/live")
        self.sio.connect(url, namespaces=["/live"], auth={"token": token}, transports=["polling"])

    def _record(self, event, data=None):
        self.events.append((event, data))

    @property
    def connected(self) -> bool:
        return "/live" in self.sio.namespaces and self.sio.connected

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


def _user(client, username):
    response = client.post(
        "/api/v1/auth/token", json={"username": username, "password": f"{username}-demo"}
    )
    return response.get_json()


def test_a_user_disabled_on_one_instance_loses_their_sockets_on_the_other(instances, monkeypatch):
    a, _b, b_url = instances
    client_a = a.test_client()
    t1, t2 = _user(client_a, "teller1"), _user(client_a, "teller2")
    s1 = LiveClient(b_url, t1["access_token"])
    s2 = LiveClient(b_url, t2["access_token"])
    try:
        assert s1.connected and s2.connected
        # B's queue listener is live once an event sent from A reaches B's socket
        probe = rooms_for(users=[t1["user"]["id"], t2["user"]["id"]])
        a.extensions["finedge"].live.emit("client.arrived", {"device_id": "P"}, rooms=probe)
        wait_for(lambda: ("client.arrived", {"device_id": "P"}) in s1.events, what="probe on B")
        wait_for(lambda: ("client.arrived", {"device_id": "P"}) in s2.events, what="probe on B")

        disabled = client_a.post(
            f"/api/v1/admin/users/{t1['user']['id']}/disable", headers=login(client_a, "admin")
        )
        assert disabled.status_code == 200
        wait_for(lambda: not s1.connected, what="teller1's socket on B closed")
        assert ("session.revoked", {"reason": "disabled"}) in s1.events
        assert s2.connected
        a.extensions["finedge"].live.emit(
            "device.state", {"device_id": "after"}, rooms=rooms_for(branches=["BR001"])
        )
        wait_for(lambda: ("device.state", {"device_id": "after"}) in s2.events, what="teller2")

        # a third process (the CLI, its live emitter on the same Redis) demotes teller2
        monkeypatch.setenv("DATABASE_URL", a.extensions["finedge"].config.database_url)
        monkeypatch.setenv("REDIS_URL", REDIS_URL)
        result = CliRunner().invoke(main, ["users", "set-role", "teller2", "rm"])
        assert result.exit_code == 0, result.output
        wait_for(lambda: not s2.connected, what="teller2's socket on B closed by the CLI")
        assert ("session.revoked", {"reason": "role_changed"}) in s2.events
        with pytest.raises(socketio.exceptions.ConnectionError):
            LiveClient(b_url, t2["access_token"])  # the old token is refused on connect
    finally:
        s1.close()
        s2.close()
