"""The production web server's access log (gevent, ``finedge web``) with real requests that
carry a JWT in the URL: the request lines are logged, the token never (issue 13, item 8)."""

from __future__ import annotations

import sys
import time

import pytest
import socketio

from bench.web_instance import WebInstance
from tests.e2e import test_web_server
from tests.iot_support import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

database = test_web_server.database  # fixture: one seeded PostgreSQL database (and Redis)
REDIS_URL = test_web_server.REDIS_URL


def test_the_access_log_shows_requests_and_never_a_token(database):
    command = [
        sys.executable,
        "-m",
        "backend.web_entry",
        "web",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]  # fmt: skip  (the access log on, as an operator runs it)
    with WebInstance(database, REDIS_URL, time.monotonic() + 120, command=command) as web:
        token = web.token("teller1")
        handshake = web.get(f"/socket.io/?EIO=4&transport=polling&token={token}")
        assert handshake.status_code == 200
        assert web.get(f"/api/v1/auth/me?access_token={token}", "teller1").status_code == 200
        refused = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(f"{web.base}?token={token}", namespaces=["/live"], wait_timeout=10)
        sock = socketio.Client(reconnection=False)
        sock.connect(web.base, namespaces=["/live"], auth={"token": token}, wait_timeout=10)
        assert sock.connected
        sock.disconnect()
        wait_for(lambda: "/api/v1/auth/me?access_token=" in web.output(), what="access log")
        assert web.stop() == 0
    log = web.output()
    assert "GET /socket.io/?EIO=4&transport=polling&token=[redacted]" in log
    assert "/api/v1/auth/me?access_token=[redacted]" in log
    assert token not in log and token.rsplit(".", 1)[1] not in log
