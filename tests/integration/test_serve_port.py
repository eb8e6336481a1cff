"""``finedge serve`` (demo and test: Werkzeug's threaded server) binds its HTTP port before it
starts any role: a port in use ends it with one line and exit 2, with no broker, hub or
scheduler ever started (in production the production server does the same:
tests/e2e/test_web_server.py)."""

from __future__ import annotations

import logging
import socket

from click.testing import CliRunner

from backend.cli import main
from backend.roles.broker import free_port


def test_a_taken_port_starts_nothing(caplog):
    caplog.set_level(logging.INFO)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["serve", "--port", str(port), "--mqtt-port", str(free_port())]
        )
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"error: HTTP port {port} on 127.0.0.1 is in use by another program; "
        "stop it or choose another port"
    ]
    started = [r.getMessage() for r in caplog.records if "listening" in r.getMessage()]
    assert started == []  # the embedded central broker never started
    assert not any(r.name.startswith(("apscheduler", "backend.roles.hub")) for r in caplog.records)
